"""Unconditional GANs and looking inside them: generation, latent arithmetic, inversion, dissection."""
