"""The one table of ONNX export: every chainrule op (``Function`` class) that runs in a forward pass, with its
emitter; the layers exported whole; and the ops that have no ONNX form, each with the reason.

``tests/onnx/test_table.py`` finds every ``Function`` subclass in chainrule and fails on one that is in neither
``FUNCTIONS`` nor ``NOT_EXPORTED``: a new op says how it leaves as ONNX, or why it does not.
"""

from __future__ import annotations

from chainrule.nn import sync_batchnorm
from chainrule.onnx import (
    emit_activation_extra,
    emit_indexing,
    emit_layers,
    emit_math,
    emit_ops,
    emit_resample,
    emit_rnn,
)
from chainrule.ops import conv, loss, pool, recurrent, sampling, select_along, shape, sparse, transfer

__all__ = ["FUNCTIONS", "MODULES", "NOT_EXPORTED"]

FUNCTIONS = {**emit_ops.EMITTERS, **emit_layers.EMITTERS, **emit_indexing.EMITTERS, **emit_activation_extra.EMITTERS}
FUNCTIONS |= emit_resample.EMITTERS
FUNCTIONS |= emit_math.EMITTERS

MODULES = {**emit_layers.MODULE_EMITTERS, **emit_rnn.MODULE_EMITTERS}

_BACKWARD = "an op of the backward pass, which an inference graph does not hold"
_LOSS = "a loss: export the model, and compute the loss outside the graph"
_RECURRENT = ("a recurrent step or time loop: export the layer that runs it (nn.RNN, nn.LSTM, nn.GRU or their "
              "cells), which becomes ONNX's own RNN, LSTM or GRU op")

NOT_EXPORTED: dict[type, str] = {
    sync_batchnorm.SyncBatchNormFunction: "batch norm's statistics over every process, in training: export the model "
                                          "in eval mode, where SyncBatchNorm uses its running statistics",
    sync_batchnorm.SumOverProcesses: "a sum over the processes of a distributed job: an inference graph holds none",
    transfer.ToDevice: "a copy between devices: export on the CPU (model.cpu() and CPU inputs), where .to('cpu') "
                       "adds no op",
    conv.WeightGrad: _BACKWARD,
    pool.AvgPool2dBackward: _BACKWARD,
    pool.MaxPool2dScatter: _BACKWARD,
    pool.MaxPool2dGather: _BACKWARD,
    shape.ScatterAdd: _BACKWARD,
    select_along.ScatterAdd: _BACKWARD,
    sparse.EmbeddingScatter: _BACKWARD,
    loss.CrossEntropyIndex: _LOSS,
    loss.CrossEntropyProb: _LOSS,
    loss.NLLLoss: _LOSS,
    loss.BinaryCrossEntropy: _LOSS,
    loss.BinaryCrossEntropyWithLogits: _LOSS,
    recurrent.RNNCell: _RECURRENT,
    recurrent.LSTMCell: _RECURRENT,
    recurrent.GRUCell: _RECURRENT,
    recurrent.RNNSequence: _RECURRENT,
    recurrent.LSTMSequence: _RECURRENT,
    recurrent.GRUSequence: _RECURRENT,
    sampling.Normal: "a random draw: an exported graph would hold the one draw made while tracing",
    **emit_math.NOT_EXPORTED,
}
