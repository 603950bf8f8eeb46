"""Labelled training data for the patch's models, in numpy (no TensorFlow).

- aami: MIT-BIH beat symbols -> AAMI EC57 classes N, S, V, F, Q.
- splits: patient-grouped and stratified k-fold, the de Chazal DS1/DS2 lists.
- preprocess: resampling and the firmware's 0.5-50 Hz band-pass, vectorised.
- vt_windows: labelled VT / non-VT windows (vfdb, mitdb, CinC 2017), `load_vt_windows`.
- beat_windows: the patch's detections on DS1 with AAMI labels and RR features, `load_beat_windows`.
- cache: .npz files keyed by the parameters that built them.
"""
