"""torchvision's paths: ``from chainrule.vision import datasets, transforms`` as ``from torchvision import ...``.

``datasets``: ``MNIST``, ``FashionMNIST``, ``KMNIST`` with torchvision's arguments, items and folders, on
``chainrule.data``'s readers. ``transforms``: ``Compose``, ``ToTensor``, ``PILToTensor``, ``Normalize``,
``Lambda``, ``CenterCrop``, ``RandomCrop``, ``RandomHorizontalFlip``. An image, where torchvision has a PIL
image, is a uint8 NumPy array H×W (H×W×C): what ``np.asarray`` gives of that PIL image.
"""

from chainrule.vision import datasets, transforms

__all__ = ["datasets", "transforms"]
