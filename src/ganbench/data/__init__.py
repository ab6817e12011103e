from ganbench.data.base import GANDataModule

__all__ = ["GANDataModule"]
