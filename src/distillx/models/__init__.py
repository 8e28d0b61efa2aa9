"""Models: encoders (Transformer, BiLSTM, CNN students; the pre-trained mPLM) and the task heads on top."""
