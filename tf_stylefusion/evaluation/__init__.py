"""Stage 4 (beside deploy): metrics and the evaluate() report."""
