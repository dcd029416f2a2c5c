"""``chainrule.nn``: modules (layers, containers, losses) with PyTorch's names, arguments and state_dict keys.

``chainrule.nn.functional`` (import as ``F``) holds the ops the modules call; ``chainrule.nn.init`` the
initialisers. A model written with ``torch.nn`` names loads a PyTorch state dict converted to NumPy
(``{k: v.numpy() for k, v in torch_model.state_dict().items()}``) with ``load_state_dict``.
"""

from chainrule.nn import bptt, functional, init, parallel, rnn, utils
from chainrule.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from chainrule.nn.activation_extra import (
    GLU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LogSigmoid,
    Mish,
    PReLU,
    ReLU6,
    SiLU,
    Softmin,
    Threshold,
)
from chainrule.nn.attention import MultiheadAttention
from chainrule.nn.bilinear import Bilinear
from chainrule.nn.channel_dropout import AlphaDropout, Dropout1d, Dropout2d
from chainrule.nn.container import ModuleDict, ModuleList, Sequential
from chainrule.nn.conv import Conv2d, ConvTranspose2d
from chainrule.nn.conv1d import Conv1d, ConvTranspose1d
from chainrule.nn.distance import CosineSimilarity, PairwiseDistance
from chainrule.nn.dropout import Dropout
from chainrule.nn.flatten import Flatten, Unflatten
from chainrule.nn.fold import Fold, Unfold
from chainrule.nn.group_norm import GroupNorm, InstanceNorm1d, InstanceNorm2d
from chainrule.nn.linear import Identity, Linear
from chainrule.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    L1Loss,
    MixtureDensityNLLLoss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from chainrule.nn.loss_extra import (
    CosineEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    MarginRankingLoss,
    TripletMarginLoss,
)
from chainrule.nn.module import IncompatibleKeys, Module, StateDictError
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from chainrule.nn.padding import (
    CircularPad1d,
    CircularPad2d,
    ConstantPad1d,
    ConstantPad2d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    ZeroPad1d,
    ZeroPad2d,
)
from chainrule.nn.parameter import Parameter
from chainrule.nn.parameter_containers import ParameterDict, ParameterList
from chainrule.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, LPPool2d, MaxPool2d
from chainrule.nn.pooling1d import AdaptiveAvgPool1d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d, MaxPool1d
from chainrule.nn.resample import (
    ChannelShuffle,
    PixelShuffle,
    PixelUnshuffle,
    Upsample,
    UpsamplingBilinear2d,
    UpsamplingNearest2d,
)
from chainrule.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.nn.sparse import Embedding
from chainrule.nn.sync_batchnorm import SyncBatchNorm
from chainrule.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "ELU", "GELU", "AdaptiveAvgPool2d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d",
    "Conv2d", "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "Embedding", "Flatten", "GaussianNLLLoss",
    "Identity", "IncompatibleKeys", "L1Loss", "LPPool2d", "LayerNorm", "LeakyReLU", "Linear", "LogSoftmax",
    "MSELoss", "MaxPool2d", "MixtureDensityNLLLoss", "Module", "ModuleDict", "ModuleList", "NLLLoss", "Parameter",
    "ReLU", "Sequential", "Sigmoid", "SmoothL1Loss", "Softmax", "Softplus", "StateDictError", "Tanh", "Unflatten",
    "functional", "init", "GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell", "bptt", "rnn", "utils",
    "MultiheadAttention", "Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerEncoderLayer", "Fold", "Unfold", "SyncBatchNorm", "parallel",
    "GLU", "SELU", "Bilinear", "CosineEmbeddingLoss", "CosineSimilarity", "Hardsigmoid", "Hardswish", "Hardtanh",
    "HuberLoss", "KLDivLoss", "LogSigmoid", "MarginRankingLoss", "Mish", "PReLU", "PairwiseDistance",
    "ParameterDict", "ParameterList", "ReLU6", "SiLU", "Softmin", "Threshold", "TripletMarginLoss",
    "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AlphaDropout", "AvgPool1d", "ChannelShuffle",
    "CircularPad1d", "CircularPad2d", "ConstantPad1d", "ConstantPad2d", "Conv1d", "ConvTranspose1d", "Dropout1d",
    "Dropout2d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "MaxPool1d", "PixelShuffle", "PixelUnshuffle",
    "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "Upsample", "UpsamplingBilinear2d",
    "UpsamplingNearest2d", "ZeroPad1d", "ZeroPad2d",
]
