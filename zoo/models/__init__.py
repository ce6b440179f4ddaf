"""Model building blocks shared by the tasks: recurrent layers and compile settings
(`layers`), every serialisable layer the zoo defines (`custom_layers`), encoder-decoder
plumbing (`seq2seq`), beam search (`decoding`) and stateful streaming copies (`streaming`)."""
