"""
==========================================
Collapse inside a plain PyTorch loop
==========================================

People who study neural collapse train their own networks in their own loops.
:class:`~sklearn_mlabnc.collapse.FeatureRecorder` measures multi-label neural collapse
there: it hooks one named layer of any ``torch.nn.Module`` and, for each batch
recorded, streams that layer's features with the batch's labels into
:class:`~sklearn_mlabnc.collapse.CollapseStatistics`, on the model's device. The
features are not kept (memory is one mean per label set and two ``d x d`` matrices)
and no extra forward pass is made.

Here a small convolutional network, defined from scratch, learns the multi-label
digits (8x8 digits on a 16x16 canvas, one or two per image) with the pick-all-label
loss written in two lines; NC1, NC2, NC3 and NC_2 of its penultimate features are
logged every epoch.
"""

# %%
import matplotlib.pyplot as plt
import torch
from torch import nn

from sklearn_mlabnc.collapse import FeatureRecorder
from sklearn_mlabnc.datasets import make_multilabel_digits

torch.set_num_threads(1)
torch.manual_seed(0)

X, Y = make_multilabel_digits(subset="train", return_X_y=True, random_state=0)
X = torch.tensor(X, dtype=torch.float32).reshape(-1, 1, 16, 16)
Y = torch.tensor(Y, dtype=torch.float32)
K = Y.shape[1]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(32, 32),  # a plain linear feature layer: features of any sign
        )
        self.classifier = nn.Linear(32, K)

    def forward(self, x):
        return self.classifier(self.features(x))


def pick_all_label_loss(logits, targets):
    return -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()


model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(X, Y), batch_size=128, shuffle=True
)

# %%
# The loop
# --------
# The only additions to an ordinary loop: the recorder is created once on the
# classifier's input (the penultimate features), reset at the start of each epoch, and
# each forward pass runs inside ``recorder.record(labels)``.
recorder = FeatureRecorder(model, "classifier", capture="input")
log = []
for epoch in range(1, 16):
    recorder.reset()
    model.train()
    for images, labels in loader:
        with recorder.record(labels):
            logits = model(images)
        loss = pick_all_label_loss(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    report = recorder.report(W=model.classifier.weight, b=model.classifier.bias)
    log.append((epoch, report.nc1, report.nc2_means, report.nc3, report.nc_m[2]))
    print(
        f"epoch {epoch:2d}: loss {loss.item():.3f}  NC1 {report.nc1:.3f}  "
        f"NC2 {report.nc2_means:.3f}  NC3 {report.nc3:.3f}  NC_2 {report.nc_m[2]:.3f}"
    )
recorder.remove()

# %%
# The curves
# ----------
# The statistics of an epoch are taken during its training steps, so they mix the
# parameters of the whole epoch, like a running training accuracy. NC1 falls by two
# orders of magnitude and NC3 and NC_2 fall steadily as the network fits the data;
# NC2 of the means moves last. Training longer, with weight decay and a feature
# penalty, takes them further (see the paper reproduction example).
epochs, *curves = zip(*log, strict=True)
fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
for values, name in zip(curves, ("NC1", "NC2 (means)", "NC3", "NC_2"), strict=True):
    ax.plot(epochs, values, "o-", label=name)
ax.set(xlabel="epoch", yscale="log", title="Collapse of a CNN's penultimate features")
ax.legend()
plt.show()
