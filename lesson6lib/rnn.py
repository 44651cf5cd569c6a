"""Character-level language models, from a three-character MLP to recurrent layers.

Every model maps a batch of character codes ``x`` of shape (batch, seq) to logits over the
vocabulary: (batch, vocab) for the models that predict one next character, (batch, seq, vocab)
for :class:`CharSeqRnn`, which predicts the next character after every position. Losses are
cross-entropies over the vocabulary axis (:func:`seq_loss`), in nats per character.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lesson6lib.checks import check_choice, check_number
from lesson6lib.layers import prediction
from lesson6lib.text import Vocab

__all__ = [
    "Char3Model",
    "CharLoop",
    "CharLoopConcat",
    "CharRnn",
    "CharSeqRnn",
    "identity_init_",
    "rnn_loop",
    "sample",
    "seq_loss",
    "wrong_axis_loss",
]


def seq_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy (nats per character) with the vocabulary on the last axis of
    ``logits``: (..., vocab) against targets of shape (...)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def wrong_axis_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """The 2018 notebook's mistake, kept to study it: the log-softmax taken over the **time**
    axis (axis 1 of (batch, seq, vocab)) instead of the vocabulary, then the usual negative
    log-likelihood. Each character's scores are normalised across the sequence's positions, so
    the "probabilities" of one position no longer sum to one over the characters."""
    log_probs = F.log_softmax(logits, dim=1)
    return F.nll_loss(log_probs.reshape(-1, logits.shape[-1]), targets.reshape(-1))


# --- models -------------------------------------------------------------------------------------


class _CharLayers(nn.Module):
    """The layers of the hand-written character models: an embedding, the input layer (green),
    the square hidden layer (orange) and the output layer (blue)."""

    def __init__(self, vocab_size: int, n_factors: int, n_hidden: int, n_in: int | None = None):
        super().__init__()
        self.e = nn.Embedding(vocab_size, n_factors)
        self.l_in = nn.Linear(n_factors if n_in is None else n_in, n_hidden)
        self.l_hidden = nn.Linear(n_hidden, n_hidden)
        self.l_out = nn.Linear(n_hidden, vocab_size)
        self.n_hidden = n_hidden


class Char3Model(_CharLayers):
    """Three characters in, the fourth out, written out step by step as in the lesson:

    in_k = relu(W_in e(c_k)) (green), h = tanh(W_h (h + in_k)) (orange) from h = 0, three
    times, and logits = W_out h (blue). The same three matrices serve every step.
    """

    def __init__(self, vocab_size: int, n_factors: int = 42, n_hidden: int = 256) -> None:
        super().__init__(vocab_size, n_factors, n_hidden)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != 3:
            raise ValueError(f"Char3Model takes (batch, 3) codes, got {tuple(x.shape)}")
        in1, in2, in3 = (F.relu(self.l_in(self.e(x[:, k]))) for k in range(3))
        h = x.new_zeros(x.shape[0], self.n_hidden, dtype=torch.float32)
        h = torch.tanh(self.l_hidden(h + in1))
        h = torch.tanh(self.l_hidden(h + in2))
        h = torch.tanh(self.l_hidden(h + in3))
        return self.l_out(h)


class CharLoop(_CharLayers):
    """:class:`Char3Model` as a loop over any number of characters: for each character,
    h = tanh(W_h (h + relu(W_in e(c)))). Logits for the character after the last one."""

    def __init__(self, vocab_size: int, n_factors: int = 42, n_hidden: int = 256) -> None:
        super().__init__(vocab_size, n_factors, n_hidden)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.zeros(x.shape[0], self.n_hidden, device=x.device)
        for t in range(x.shape[1]):
            h = torch.tanh(self.l_hidden(h + F.relu(self.l_in(self.e(x[:, t])))))
        return self.l_out(h)


class CharLoopConcat(_CharLayers):
    """Like :class:`CharLoop`, but the state and the character are concatenated rather than
    added: h = tanh(W_h relu(W_in [h, e(c)])), so the layer can weigh the two separately."""

    def __init__(self, vocab_size: int, n_factors: int = 42, n_hidden: int = 256) -> None:
        super().__init__(vocab_size, n_factors, n_hidden, n_in=n_factors + n_hidden)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.zeros(x.shape[0], self.n_hidden, device=x.device)
        for t in range(x.shape[1]):
            inp = F.relu(self.l_in(torch.cat([h, self.e(x[:, t])], dim=1)))
            h = torch.tanh(self.l_hidden(inp))
        return self.l_out(h)


_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def _recurrent(cell: str, n_factors: int, n_hidden: int, n_layers: int, nonlinearity: str):
    check_choice("cell", cell, tuple(_CELLS))
    check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
    kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    return _CELLS[cell](n_factors, n_hidden, num_layers=n_layers, **kwargs)


class CharRnn(nn.Module):
    """PyTorch's recurrent layer in place of the loop: embeddings, ``nn.RNN`` (or GRU, LSTM),
    and logits for the character after the last one. The layer works on (seq, batch, features);
    its hidden state has shape (layers, batch, n_hidden)."""

    def __init__(
        self,
        vocab_size: int,
        n_factors: int = 42,
        n_hidden: int = 256,
        cell: str = "rnn",
        n_layers: int = 1,
        nonlinearity: str = "tanh",
    ) -> None:
        super().__init__()
        self.e = nn.Embedding(vocab_size, n_factors)
        self.rnn = _recurrent(cell, n_factors, n_hidden, n_layers, nonlinearity)
        self.l_out = nn.Linear(n_hidden, vocab_size)

    def forward(self, x: Tensor) -> Tensor:
        outputs, _ = self.rnn(self.e(x).transpose(0, 1))  # (seq, batch, hidden)
        return self.l_out(outputs[-1])


class CharSeqRnn(CharRnn):
    """A prediction after every character, with the hidden state explicit:
    ``forward(x, h=None) -> (logits, h)``, logits of shape (batch, seq, vocab) and ``h`` the
    final hidden state (a pair (h, c) for an LSTM), ready to start the next sequence.

    Trained on the stateful layout (:class:`lesson6lib.batches.StreamBatches`) with the
    :class:`lesson6lib.callbacks.ResetState` callback, each batch's final state goes, detached,
    into the next; otherwise every batch starts from zeros.
    """

    def __init__(self, vocab_size: int, *args, dropout: float = 0.0, **kwargs) -> None:
        """The arguments of :class:`CharRnn`, and ``dropout`` on the outputs."""
        super().__init__(vocab_size, *args, **kwargs)
        self.drop = nn.Dropout(check_number("dropout", dropout, 0.0, 1.0, high_open=True))

    def forward(
        self, x: Tensor, h: Tensor | tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        outputs, h = self.rnn(self.e(x).transpose(0, 1), h)
        return self.l_out(self.drop(outputs)).transpose(0, 1), h


# --- what nn.RNN computes, written out ---------------------------------------------------------


def rnn_loop(
    x: Tensor,
    h0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    nonlinearity: str = "tanh",
) -> tuple[Tensor, Tensor]:
    """One layer of an Elman RNN over x of shape (seq, batch, features):
    h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh). Returns every h_t and the last one, like
    ``nn.RNN``."""
    check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
    act = {"tanh": torch.tanh, "relu": torch.relu}[nonlinearity]
    h, outputs = h0, []
    for x_t in x:
        h = act(x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        outputs.append(h)
    return torch.stack(outputs), h


def identity_init_(rnn: nn.RNN, scale: float = 1.0, input_std: float | None = None) -> nn.RNN:
    """Le, Jaitly & Hinton's initialisation (arXiv:1504.00941): every recurrent matrix
    W_hh = scale * I and the biases zero, so at the start the state is carried forward unchanged.

    ``input_std`` also redraws the input weights from N(0, input_std^2). Leave it ``None`` (keep
    PyTorch's initialisation) unless reproducing the paper: its 0.001 went with plain SGD and
    long training; with Adam at small learning rates, inputs that small barely learn."""
    if not isinstance(rnn, nn.RNN):
        raise TypeError(f"identity_init_ takes an nn.RNN, got {type(rnn).__name__}")
    with torch.no_grad():
        for layer in range(rnn.num_layers):
            w_hh = getattr(rnn, f"weight_hh_l{layer}")
            w_hh.copy_(scale * torch.eye(w_hh.shape[0]))
            getattr(rnn, f"bias_hh_l{layer}").zero_()
            getattr(rnn, f"bias_ih_l{layer}").zero_()
            if input_std is not None:
                getattr(rnn, f"weight_ih_l{layer}").normal_(0.0, input_std)
    return rnn


# --- sampling -----------------------------------------------------------------------------------


@torch.no_grad()
def sample(
    model: nn.Module,
    vocab: Vocab,
    prompt: str,
    n_chars: int,
    temperature: float | None = None,
    context: int | None = None,
    seed: int = 0,
) -> str:
    """Continue ``prompt`` by ``n_chars`` characters. With ``temperature=None`` each next
    character is the most likely one (greedy); otherwise it is drawn from softmax(logits / T):
    T < 1 sharpens, T > 1 flattens. ``context`` feeds only the last so many characters (needed
    for models with a fixed input length, such as :class:`Char3Model` with 3)."""
    if temperature is not None and temperature <= 0:
        raise ValueError(f"temperature must be positive or None, got {temperature}")
    if not prompt:
        raise ValueError("prompt must hold at least one character")
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    codes = vocab.encode(prompt).tolist()
    device = next(model.parameters()).device
    for _ in range(n_chars):
        window = codes[-context:] if context else codes
        logits = prediction(model(torch.tensor([window], device=device)))
        last = (logits[0, -1] if logits.dim() == 3 else logits[0]).float().cpu()
        if temperature is None:
            codes.append(int(last.argmax()))
        else:
            probs = torch.softmax(last / temperature, dim=0)
            codes.append(int(torch.multinomial(probs, 1, generator=gen)))
    model.train(was_training)
    return vocab.decode(codes[len(prompt) :])
