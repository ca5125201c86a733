"""Training and evaluation of detectors (needs the `train` extra: torch, brevitas, scikit-image).

    faces      WIDER FACE reader; synthetic face scenes from scikit-image's data
    metrics    AP@0.5, VOC style (numpy only)
    baseline   scikit-image's LBP frontal-face cascade, scored the same way
    lpyolo     quantization-aware training of hwgen.zoo.lpyolo (python -m hwgen.train.lpyolo)
"""
