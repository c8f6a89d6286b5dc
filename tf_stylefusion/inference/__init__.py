"""Stage 3 (beside training): stylizing images, fusion controls, masks, colour, tiling, video."""
