// placeholder until the DQN kind lands
