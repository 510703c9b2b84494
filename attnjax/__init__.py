"""attnjax: do attention weights explain a text classifier? Measured with mutual information.

Subpackages: `attnjax.models`, `attnjax.data`, `attnjax.training`, `attnjax.mi`,
`attnjax.analysis`; the command line is `attnjax` (`attnjax.cli`).
"""

__version__ = "0.1.0"
