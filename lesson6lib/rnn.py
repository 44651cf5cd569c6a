"""Character-level language models, from a three-character MLP to stateful GRUs.

Every model maps a batch of character codes ``x`` of shape (batch, seq) to logits over the
vocabulary: (batch, vocab) for the models that predict one next character, (batch, seq, vocab)
for :class:`CharSeqRnn`, which predicts the next character after every position. Losses are
cross-entropies over the vocabulary axis (:func:`seq_loss`), in nats per character.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lesson6lib.learner import Callback

__all__ = [
    "Char3Model",
    "ResetState",
    "CharLoop",
    "CharLoopConcat",
    "CharRnn",
    "CharSeqRnn",
    "StreamBatches",
    "Vocab",
    "char_windows",
    "contiguous_split",
    "identity_init_",
    "rnn_loop",
    "sample",
    "seq_loss",
    "seq_windows",
]


class Vocab:
    """The characters of a text, sorted, and the two maps between characters and codes."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text:
            raise ValueError("Vocab needs a non-empty string")
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> Tensor:
        """Codes of ``text`` as a 1-D int64 tensor; a character not in the vocabulary raises."""
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown[:10]}")
        return torch.tensor([self.stoi[c] for c in text], dtype=torch.int64)

    def decode(self, codes: Sequence[int] | Tensor) -> str:
        return "".join(self.chars[int(i)] for i in codes)


def contiguous_split(codes: Tensor, valid_frac: float = 0.1) -> tuple[Tensor, Tensor]:
    """The text's first ``1 - valid_frac`` for training and its last ``valid_frac`` for
    validation: no window of the validation text overlaps one of the training text."""
    if not 0 < valid_frac < 1:
        raise ValueError(f"valid_frac must be in (0, 1), got {valid_frac}")
    cut = int(len(codes) * (1 - valid_frac))
    return codes[:cut], codes[cut:]


def char_windows(codes: Tensor, cs: int, overlapping: bool = False) -> tuple[Tensor, Tensor]:
    """Inputs of ``cs`` characters and the character that follows each: x (n, cs), y (n,).
    Non-overlapping windows start every ``cs`` characters; overlapping ones at every character."""
    if cs < 1 or len(codes) <= cs:
        raise ValueError(f"need 1 <= cs < len(codes), got cs={cs} for {len(codes)} codes")
    step = 1 if overlapping else cs
    starts = torch.arange(0, len(codes) - cs, step)
    x = codes[starts[:, None] + torch.arange(cs)]
    return x, codes[starts + cs]


def seq_windows(codes: Tensor, bptt: int) -> tuple[Tensor, Tensor]:
    """Non-overlapping sequences of ``bptt`` characters and the same shifted by one: x and y of
    shape (n, bptt), y[:, t] being the character after x[:, t]."""
    n = (len(codes) - 1) // bptt
    if n < 1:
        raise ValueError(f"the text is shorter than one sequence of {bptt} characters")
    return codes[: n * bptt].view(n, bptt), codes[1 : n * bptt + 1].view(n, bptt)


class StreamBatches:
    """The stateful layout: the text cut into ``batch_size`` parallel streams, read ``bptt``
    characters at a time, in order, so that row b of each batch continues row b of the previous
    one. A model may then carry its hidden state from batch to batch (truncated BPTT)."""

    def __init__(self, codes: Tensor, batch_size: int, bptt: int) -> None:
        length = (len(codes) - 1) // batch_size
        if length < 2:
            raise ValueError(f"{len(codes)} codes are too few for {batch_size} streams")
        self.x = codes[: length * batch_size].view(batch_size, length)
        self.y = codes[1 : length * batch_size + 1].view(batch_size, length)
        self.bptt = bptt

    def __len__(self) -> int:
        return -(-self.x.shape[1] // self.bptt)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for t in range(0, self.x.shape[1], self.bptt):
            yield self.x[:, t : t + self.bptt], self.y[:, t : t + self.bptt]


def seq_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy (nats per character) with the vocabulary on the last axis of
    ``logits``: (..., vocab) against targets of shape (...)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


# --- models -------------------------------------------------------------------------------------


class _CharLayers(nn.Module):
    """The layers of the hand-written character models: an embedding, the input layer (green),
    the square hidden layer (orange) and the output layer (blue)."""

    def __init__(self, vocab_size: int, n_fac: int, n_hidden: int, n_in: int | None = None):
        super().__init__()
        self.e = nn.Embedding(vocab_size, n_fac)
        self.l_in = nn.Linear(n_fac if n_in is None else n_in, n_hidden)
        self.l_hidden = nn.Linear(n_hidden, n_hidden)
        self.l_out = nn.Linear(n_hidden, vocab_size)
        self.n_hidden = n_hidden


class Char3Model(_CharLayers):
    """Three characters in, the fourth out, written out step by step as in the lesson:

    in_k = relu(W_in e(c_k)) (green), h = tanh(W_h (h + in_k)) (orange) from h = 0, three
    times, and logits = W_out h (blue). The same three matrices serve every step.
    """

    def __init__(self, vocab_size: int, n_fac: int = 42, n_hidden: int = 256) -> None:
        super().__init__(vocab_size, n_fac, n_hidden)

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

    def __init__(self, vocab_size: int, n_fac: int = 42, n_hidden: int = 256) -> None:
        super().__init__(vocab_size, n_fac, n_hidden)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.zeros(x.shape[0], self.n_hidden, device=x.device)
        for t in range(x.shape[1]):
            h = torch.tanh(self.l_hidden(h + F.relu(self.l_in(self.e(x[:, t])))))
        return self.l_out(h)


class CharLoopConcat(_CharLayers):
    """Like :class:`CharLoop`, but the state and the character are concatenated rather than
    added: h = tanh(W_h relu(W_in [h, e(c)])), so the layer can weigh the two separately."""

    def __init__(self, vocab_size: int, n_fac: int = 42, n_hidden: int = 256) -> None:
        super().__init__(vocab_size, n_fac, n_hidden, n_in=n_fac + n_hidden)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.zeros(x.shape[0], self.n_hidden, device=x.device)
        for t in range(x.shape[1]):
            inp = F.relu(self.l_in(torch.cat([h, self.e(x[:, t])], dim=1)))
            h = torch.tanh(self.l_hidden(inp))
        return self.l_out(h)


_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def _recurrent(cell: str, n_fac: int, n_hidden: int, n_layers: int, nonlinearity: str):
    if cell not in _CELLS:
        raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
    kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    return _CELLS[cell](n_fac, n_hidden, num_layers=n_layers, **kwargs)


class CharRnn(nn.Module):
    """PyTorch's recurrent layer in place of the loop: embeddings, ``nn.RNN`` (or GRU, LSTM),
    and logits for the character after the last one. The layer works on (seq, batch, features);
    its hidden state has shape (layers, batch, n_hidden)."""

    def __init__(
        self,
        vocab_size: int,
        n_fac: int = 42,
        n_hidden: int = 256,
        cell: str = "rnn",
        n_layers: int = 1,
        nonlinearity: str = "tanh",
    ) -> None:
        super().__init__()
        self.e = nn.Embedding(vocab_size, n_fac)
        self.rnn = _recurrent(cell, n_fac, n_hidden, n_layers, nonlinearity)
        self.l_out = nn.Linear(n_hidden, vocab_size)

    def forward(self, x: Tensor) -> Tensor:
        outputs, _ = self.rnn(self.e(x).transpose(0, 1))  # (seq, batch, hidden)
        return self.l_out(outputs[-1])


class CharSeqRnn(CharRnn):
    """A prediction after every character: logits of shape (batch, seq, vocab).

    With ``stateful=True`` the final hidden state of each batch (detached, so gradients stop at
    the batch boundary) is the initial state of the next: use it with :class:`StreamBatches`,
    and call :meth:`reset` before each pass over the text. Without it, every batch starts from
    zeros.
    """

    def __init__(
        self,
        vocab_size: int,
        n_fac: int = 42,
        n_hidden: int = 256,
        cell: str = "rnn",
        n_layers: int = 1,
        nonlinearity: str = "tanh",
        stateful: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(vocab_size, n_fac, n_hidden, cell, n_layers, nonlinearity)
        self.drop = nn.Dropout(dropout)
        self.stateful = stateful
        self.h: Tensor | tuple[Tensor, Tensor] | None = None

    def reset(self) -> None:
        """Forget the carried hidden state."""
        self.h = None

    def _carried(self, batch: int):
        h = self.h
        if h is None:
            return None
        size = (h[0] if isinstance(h, tuple) else h).shape[1]
        return h if size == batch else None  # a smaller last batch starts afresh

    def forward(self, x: Tensor) -> Tensor:
        h0 = self._carried(x.shape[0]) if self.stateful else None
        outputs, h = self.rnn(self.e(x).transpose(0, 1), h0)
        if self.stateful:
            self.h = tuple(t.detach() for t in h) if isinstance(h, tuple) else h.detach()
        return self.l_out(self.drop(outputs)).transpose(0, 1)


class ResetState(Callback):
    """For a stateful model: forget the carried state before each pass over the training text
    and before validation, so that each starts from the beginning of its streams."""

    def before_epoch(self, learn) -> None:
        learn.model.reset()

    def before_validate(self, learn) -> None:
        learn.model.reset()


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
    act = {"tanh": torch.tanh, "relu": torch.relu}[nonlinearity]
    h, outputs = h0, []
    for x_t in x:
        h = act(x_t @ w_ih.T + b_ih + h @ w_hh.T + b_hh)
        outputs.append(h)
    return torch.stack(outputs), h


def identity_init_(rnn: nn.RNN, scale: float = 1.0, input_std: float | None = None) -> nn.RNN:
    """Le, Jaitly & Hinton's initialisation (arXiv:1504.00941): every recurrent matrix
    W_hh = scale * I and its bias zero, so at the start the state is carried forward unchanged.
    With ``input_std``, input weights are drawn from N(0, input_std^2) (the paper used 0.001)."""
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
    was_training, stateful = model.training, getattr(model, "stateful", False)
    model.eval()
    if stateful:
        model.stateful = False  # each step below feeds the whole context from a zero state
    gen = torch.Generator().manual_seed(seed)
    codes = vocab.encode(prompt).tolist()
    device = next(model.parameters()).device
    for _ in range(n_chars):
        window = codes[-context:] if context else codes
        logits = model(torch.tensor([window], device=device))
        last = (logits[0, -1] if logits.dim() == 3 else logits[0]).float().cpu()
        if temperature is None:
            codes.append(int(last.argmax()))
        else:
            probs = torch.softmax(last / temperature, dim=0)
            codes.append(int(torch.multinomial(probs, 1, generator=gen)))
    if stateful:
        model.stateful = True
        model.reset()
    model.train(was_training)
    return vocab.decode(codes[len(prompt) :])
