// placeholder until the LSTM kind lands
