"""Small modules and criteria shared by the tests of the training loop and the optimizers."""

import numpy as np

from dlcore import Criterion


class HalfSquared(Criterion):
    """Half the squared error, mean over the batch: ``0.5/N Σ_n ‖z_n − t_n‖²``."""

    def fprop(self, z, t):
        self.diff = z - t
        return 0.5 * float(np.mean(np.sum(self.diff ** 2, axis=1)))

    def bprop(self):
        return self.diff / len(self.diff)
