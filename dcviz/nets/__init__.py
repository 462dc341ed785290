"""The networks of every method, in one package.

- :mod:`.common`: seeding, index batches, encoding in chunks (every method);
- :mod:`.autoencoders`: the AE methods' autoencoders, the arch="auto" rule, their pretraining;
- :mod:`.gan`: the GAN clustering's generator, critic and classifier;
- :mod:`.mlc`: MLC's backbones, heads and LARS;
- :mod:`.augment`: the augmentations of MLC and ACe/DeC, as torch ops.
"""
from dcviz.nets.autoencoders import (LINEAR_AUTO_MAX_DIM, ConvAutoencoder, LinearAutoencoder,
                                     MLPAutoencoder, fast_bf16, make_autoencoder, mlp,
                                     pretrain_autoencoder, resolve_arch, resolve_precision)
from dcviz.nets.common import batches, encode_all, set_seed, warm_up

__all__ = ["LINEAR_AUTO_MAX_DIM", "ConvAutoencoder", "LinearAutoencoder", "MLPAutoencoder",
           "batches", "encode_all", "fast_bf16", "make_autoencoder", "mlp", "pretrain_autoencoder",
           "resolve_arch", "resolve_precision", "set_seed", "warm_up"]
