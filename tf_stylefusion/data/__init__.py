"""Stage 1 of the flow: reading, validating and writing images; tf.data pipelines."""
