"""Stage 3: StyleFusionGAN, its losses, the train() run, callbacks, distribution, add-styles and the style-encoder stage."""
