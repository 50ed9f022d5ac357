// placeholder until the SASRec kind lands
