"""Stage 2: the Keras layers and models (generator, discriminator, style encoder, loss networks)."""
