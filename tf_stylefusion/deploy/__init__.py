"""Stage 4: SavedModel (TF Serving) and TFLite/LiteRT exports of a trained generator."""
