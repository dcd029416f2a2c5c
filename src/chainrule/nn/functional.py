"""``chainrule.nn.functional`` (import as ``F``): the neural-network ops under PyTorch's names and signatures.

Each op lives in its family's file in ``chainrule.ops`` with its derivation; this module only gathers them.
"""

from chainrule.ops.activation import *  # noqa: F403
from chainrule.ops.activation_extra import *  # noqa: F403, E402
from chainrule.ops.attention import *  # noqa: F403
from chainrule.ops.channel_dropout import *  # noqa: F403, E402
from chainrule.ops.conv import *  # noqa: F403
from chainrule.ops.conv1d import *  # noqa: F403, E402
from chainrule.ops.distance import *  # noqa: F403, E402
from chainrule.ops.dropout import *  # noqa: F403
from chainrule.ops.group_norm import *  # noqa: F403, E402
from chainrule.ops.linalg import *  # noqa: F403
from chainrule.ops.loss import *  # noqa: F403
from chainrule.ops.loss_extra import *  # noqa: F403, E402
from chainrule.ops.normalization import *  # noqa: F403
from chainrule.ops.pool import *  # noqa: F403
from chainrule.ops.pool1d import *  # noqa: F403, E402
from chainrule.ops.resample import *  # noqa: F403, E402
from chainrule.ops.shape import pad  # noqa: F401
from chainrule.ops.sparse import *  # noqa: F403
from chainrule.ops.unfold import *  # noqa: F403
