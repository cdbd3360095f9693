"""The course's architectures as Keras-style summaries: VGG-16, ResNet-50 and GoogLeNet at 224x224, with their
published parameter counts, plus each network's receptive field and multiply-adds."""
import fastconv as fc
from fastconv.viz import layer_table

PUBLISHED = {"vgg16": 138_357_544, "resnet50": 25_557_032, "googlenet": 6_624_904}

for name, total in PUBLISHED.items():
    # GoogLeNet's published count is without the two auxiliary classifiers used in training.
    extra = {"aux_logits": False} if name == "googlenet" else {}
    model = fc.models.get(name, num_classes=1000, in_channels=3, **extra)
    lines = fc.summary(model, (3, 224, 224), print_fn=lambda table: None).splitlines()
    # The full tables run to hundreds of rows; show the head and the totals.
    print("\n".join(lines[:8] + ["..."] + lines[-6:]))
    count = sum(p.size for p in model.parameters())
    rows = layer_table(model, (3, 224, 224))
    macs = sum(r.macs for r in rows)
    print(f"{name}: {count:,} parameters (published {total:,}), {macs / 1e9:.2f} G multiply-adds per image\n")
    assert count == total, (name, count, total)
