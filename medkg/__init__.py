"""medkg: a knowledge-graph-centric data engine for medical AI."""

import logging

__version__ = "0.1.0"

# Library modules log to logging.getLogger(__name__) (all under "medkg"); an application
# chooses where records go (the CLI: --verbose / --debug). Without one, nothing is printed.
logging.getLogger(__name__).addHandler(logging.NullHandler())
