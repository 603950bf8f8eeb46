"""Training, cross-validation, int8 conversion and export of the patch's models."""
