"""Keras definitions of the patch's networks: the patent's SCNN (VT), the Hannun-style ResNet
(rhythm; teacher and patch-sized student) and the beat classifier."""
