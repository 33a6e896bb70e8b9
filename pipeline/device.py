"""Where the models run: ``auto`` takes the GPU when torch sees one."""
from pipeline.errors import PodscribeError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise PodscribeError("--device cuda asked for, but torch sees no CUDA device")
    return device
