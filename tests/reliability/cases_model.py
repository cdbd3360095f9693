"""Battery cases for layers, compiled models, model files, the CLI and the top-level switches (see cases.py)."""
from __future__ import annotations

from cases import CLI, I, T, V, VT, case

LABELS = "the lead's work: class indices checked in compiled steps, weights untouched on error"
INTS = "the lead's work: integer image dtypes in compiled steps"
PLAN = "the lead's work: planner sizes and peak_bytes of absurd shapes"

# ---- nn layers and the model zoo -------------------------------------------------------------------------------
for ctor, args, exc, words in [
    ("nn.Conv2d", "1, -3, 3", V, ["Conv2d", "out_channels", "-3"]),
    ("nn.Conv2d", "1, 8, 0", V, ["Conv2d", "kernel_size", "0"]),
    ("nn.Conv2d", "0, 8, 3", V, ["Conv2d", "in_channels", "0"]),
    ("nn.Conv2d", "1, 8, 3, stride=0", V, ["Conv2d", "stride", "0"]),
    ("nn.Conv2d", "1, 8, 3, padding=-2", V, ["Conv2d", "padding", "-2"]),
    ("nn.Conv2d", "1, 8, 3, dilation=(1, 0)", V, ["Conv2d", "dilation", "(1, 0)"]),
    ("nn.Conv2d", "3, 8, 3, groups=2", V, ["Conv2d", "groups", "2"]),
    ("nn.Conv2d", "1, 8, 3, padding_mode='wrap'", V, ["Conv2d", "padding_mode", "wrap"]),
    ("nn.Conv2d", "1, 8, 3.0", T, ["Conv2d", "kernel_size", "3.0"]),
    ("nn.Conv2d", "1, 2**70, 3", V, ["Conv2d", "out_channels"]),
    ("nn.Conv1d", "1, 8, (3, 3)", V, ["Conv1d", "kernel_size"]),
    ("nn.Conv3d", "'1', 8, 3", T, ["Conv3d", "in_channels", "'1'"]),
    ("nn.ConvTranspose2d", "1, 8, 3, stride=2, output_padding=3", V, ["ConvTranspose2d", "output_padding"]),
    ("nn.Linear", "0, 10", V, ["Linear", "in_features", "0"]),
    ("nn.Linear", "10, -1", V, ["Linear", "out_features", "-1"]),
    ("nn.Linear", "2**40, 2**40", V, ["Linear", "elements"]),
    ("nn.Linear", "10, None", T, ["Linear", "out_features", "None"]),
    ("nn.BatchNorm2d", "0", V, ["BatchNorm2d", "num_features", "0"]),
    ("nn.BatchNorm2d", "4, eps=-1e-5", V, ["BatchNorm2d", "eps"]),
    ("nn.BatchNorm1d", "4, momentum=2", V, ["BatchNorm1d", "momentum", "2"]),
    ("nn.GroupNorm", "3, 4", V, ["GroupNorm", "num_groups", "3"]),
    ("nn.LayerNorm", "(4, -1)", V, ["LayerNorm", "normalized_shape", "-1"]),
    ("nn.LocalResponseNorm", "-1", V, ["LocalResponseNorm", "size", "-1"]),
    ("nn.Dropout", "1.5", V, ["Dropout", "p", "1.5"]),
    ("nn.Dropout2d", "float('nan')", V, ["Dropout2d", "p", "nan"]),
    ("nn.LeakyReLU", "float('inf')", V, ["LeakyReLU", "negative_slope", "inf"]),
    ("nn.MaxPool2d", "0", V, ["MaxPool2d", "kernel_size", "0"]),
    ("nn.MaxPool2d", "2, padding=3", V, ["MaxPool2d", "padding", "3"]),
    ("nn.AvgPool2d", "2, stride=-1", V, ["AvgPool2d", "stride", "-1"]),
    ("nn.AdaptiveAvgPool2d", "(0, 2)", V, ["AdaptiveAvgPool2d", "output_size", "0"]),
    ("nn.Upsample", "scale_factor=0", V, ["Upsample", "scale_factor", "0"]),
    ("nn.Upsample", "size=4, mode='trilinear'", V, ["Upsample", "mode", "trilinear"]),
    ("nn.Softmax", "'last'", T, ["Softmax", "dim", "'last'"]),
    ("nn.Sequential", "3", T, ["Module"]),
    ("fc.models.resnet18", "num_classes=0", V, ["ResNet", "num_classes", "0"]),
    ("fc.models.resnet50", "in_channels=0", V, ["ResNet", "in_channels", "0"]),
    ("fc.models.ResNet", "layers=(2, 2, 2)", V, ["ResNet", "layers"]),
    ("fc.models.ResNet", "shortcut='D'", V, ["ResNet", "shortcut", "'D'"]),
    ("fc.models.vgg16", "num_classes=-1", V, ["VGG", "num_classes", "-1"]),
    ("fc.models.VGG", "cfg=[64, 'X']", VT, ["VGG", "cfg"]),
    ("fc.models.alexnet", "dropout=1.5", V, ["AlexNet", "dropout", "1.5"]),
    ("fc.models.googlenet", "num_classes=0", V, ["GoogLeNet", "num_classes", "0"]),
    ("fc.models.lenet5", "variant='tiny'", V, ["LeNet5", "variant", "tiny"]),
    ("fc.models.unet", "depth=64", V, ["UNet", "depth", "64"]),
    ("fc.models.fcn", "variant='4s'", V, ["FCN", "variant", "4s"]),
    ("fc.models.siamese_net", "embedding_dim=-8", V, ["EmbeddingNet", "embedding_dim", "-8"]),
    ("fc.models.localization_net", "base=0", V, ["LocalizationNet", "base", "0"]),
    ("fc.models.get", "'resnet19'", V, ["resnet19"]),
    ("fc.models.get", "5", T, ["name"]),
]:
    case(f"ctor.{ctor.split('.')[-1]}({args})", f"{ctor}({args})", exc, words)

case("init.trunc_normal_far_tail", "from fastconv.nn.init import trunc_normal_\n"
     "a = np.empty(10000, np.float32); trunc_normal_(a, mean=100., std=1., a=-2, b=2)\n"
     "assert a.min() >= -2 and a.max() <= 2", None, timeout=30)
case("models.trunc_normal_far_tail", "from fastconv.models._registry import trunc_normal_\n"
     "a = np.empty(100, np.float32); trunc_normal_(a, mean=-1e6, std=1e-3, a=0, b=1)\n"
     "assert a.min() >= 0 and a.max() <= 1", None, timeout=30)
case("init.normal_std", "nn.init.normal_(np.empty(3, np.float32), 0.0, -1.0)", V, ["std", "-1"])
case("init.uniform_order", "nn.init.uniform_(np.empty(3, np.float32), 1.0, 0.0)", V, ["'a'", "'b'"])
case("module.linear_input", "nn.Linear(4, 2)(np.ones((3, 5), np.float32))", V, ["in_features=4", "5"])
case("module.bn_channels", "nn.BatchNorm2d(3)(x)", V, ["num_features=3"])
case("module.state_dict_shape", "nn.Linear(2, 2).load_state_dict({'weight': np.ones((3, 3)), 'bias': np.ones(2)})",
     ("RuntimeError",), ["size mismatch", "weight"])

# ---- compile, train_step, predict ------------------------------------------------------------------------------
NET = "net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(32, 3))\n"
STEP = NET + "c = fc.compile(net, (4, 1, 4, 4), loss='cross_entropy', optimizer=fc.optim.SGD(net.parameters(), " \
             "lr=0.1))\n"
case("compile.shape_negative", NET + "fc.compile(net, (-1, 1, 4, 4))", V, ["-1"])
case("compile.shape_rank", NET + "fc.compile(net, (4, 4))", V, ["input"])
case("compile.shape_channels", NET + "fc.compile(net, (4, 3, 4, 4))", V, ["channels", "3"])
case("compile.loss_name", NET + "fc.compile(net, (4, 1, 4, 4), loss='hinge')", V, ["loss", "hinge"])
case("compile.shape_str", NET + "fc.compile(net, 'big')", VT, ["input_shape"],
     lead="compile.py is the lead's: its input_shape parsing gives int()'s message")
case("compile.peak_bytes_huge", "c = fc.compile(nn.Linear(4, 2), (2**62 + 1, 4))\nassert c.peak_bytes > 2**62", V,
     ["shape"], lead=PLAN)
case("train_step.channels", STEP + "c.train_step(np.ones((4, 2, 4, 4), np.float32), np.zeros(4, np.int64))",
     V, ["channels", "2"])
case("train_step.targets_len", STEP + "c.train_step(np.ones((4, 1, 4, 4), np.float32), np.zeros(3, np.int64))",
     V, ["x has 4 samples", "y has 3"])
case("train_step.label_7", STEP + "c.train_step(np.ones((4, 1, 4, 4), np.float32), np.array([0, 1, 7, 1]))", I,
     ["7"], lead=LABELS)
case("train_step.label_neg", STEP + "c.train_step(np.ones((4, 1, 4, 4), np.float32), np.array([0, 1, -1, 1]))",
     I, ["-1"], lead=LABELS)
case("train_step.label_u8", STEP + "c.train_step(np.ones((4, 1, 4, 4), np.float32), np.array([0, 1, 255, 1], "
     "np.uint8))", I, ["255"], lead=LABELS)
case("train_step.uint8_images", STEP + "c.train_step(np.full((4, 1, 4, 4), 255, np.uint8), np.zeros(4, np.int64))",
     T, ["uint8"], lead=INTS)
case("predict.uint8_images", NET + "fc.predict(net, np.full((4, 1, 4, 4), 255, np.uint8))", T, ["uint8"],
     lead=INTS)
case("predict.batch_0", NET + "fc.predict(net, np.ones((4, 1, 4, 4), np.float32), batch_size=0)", V,
     ["batch_size", "0"])
case("predict.batch_neg", STEP + "c.predict(np.ones((8, 1, 4, 4), np.float32), batch_size=-2)", V,
     ["batch_size", "-2"])
case("predict.empty", NET + "fc.predict(net, np.ones((0, 1, 4, 4), np.float32))", V, ["x"])
case("predict.strings", NET + "fc.predict(net, np.array([['a']]))", T, ["x"])
case("predict.conv_padding_2**31", "fc.predict(nn.Conv2d(1, 4, 3, padding=2**31 - 3), x)", V, ["padding"])
case("fit.batch_0", NET + "fc.fit(net, np.ones((4, 1, 4, 4), np.float32), np.zeros(4, np.int64), batch_size=0, "
     "verbose=0)", V, ["batch_size", "0"])
case("fit.epochs_float", NET + "fc.fit(net, np.ones((4, 1, 4, 4), np.float32), np.zeros(4, np.int64), "
     "epochs=1.5, verbose=0)", T, ["epochs", "1.5"])
case("fit.length", NET + "fc.fit(net, np.ones((4, 1, 4, 4), np.float32), np.zeros(3, np.int64), verbose=0)", V,
     ["4", "3"])
case("fit.validation_split", NET + "fc.fit(net, np.ones((4, 1, 4, 4), np.float32), np.zeros(4, np.int64), "
     "validation_split=1.0, verbose=0)", V, ["validation_split"])
case("evaluate.batch_neg", NET + "fc.evaluate(net, np.ones((4, 1, 4, 4), np.float32), np.zeros(4, np.int64), "
     "batch_size=-1)", V, ["batch_size", "-1"])
case("optim.lr_neg", NET + "fc.optim.SGD(net.parameters(), lr=-1.0)", V, ["learning rate", "-1"])
case("optim.empty", "fc.optim.Adam([], lr=0.1)", V, ["empty parameter list"])

# ---- fc.load on crafted files ----------------------------------------------------------------------------------
LIN = "{'class': 'fastconv.nn.linear:Linear', 'args': [2, 3], 'kwargs': []}"
PAD = "{'pad': np.zeros(1000, np.float32)}"
for name, arch, words in [
    ("class_this", "{'class': 'this:Nothing'}", ["architecture.class", "this:Nothing"]),
    ("class_os_system", "{'class': 'os:system', 'args': ['echo pwned']}", ["architecture.class", "os:system"]),
    ("class_builtins", "{'class': 'builtins:eval', 'args': ['1']}", ["architecture.class"]),
    ("class_fastconv_io", "{'class': 'fastconv.io:load', 'args': []}", ["architecture.class"]),
    ("class_int", "{'class': 7}", ["architecture.class"]),
    ("not_object", "[1, 2, 3]", ["architecture"]),
    ("unknown_key", "dict(" + LIN + ", exec='x')", ["architecture", "unknown keys"]),
    ("training_str", "dict(" + LIN + ", training='no')", ["architecture.training"]),
    ("args_dict", "dict(" + LIN + ", args={'a': 1})", ["architecture.args"]),
    ("kwargs_bad_name", "dict(" + LIN + ", kwargs=[['__class__', 1]])", ["architecture"]),
    ("kwargs_unknown", "dict(" + LIN + ", kwargs=[['colour', 1]])", ["architecture", "colour"]),
    ("linear_neg", "dict(" + LIN + ", args=[2, -3])", ["architecture", "out_features", "-3"]),
    ("linear_2**64", "dict(" + LIN + ", args=[2, 2**64])", ["architecture", "out_features"]),
    ("array_dtype", "dict(" + LIN + ", args=[{'__array__': [1], 'dtype': 'V1000000000'}])", ["dtype"]),
    ("array_ragged", "dict(" + LIN + ", args=[{'__array__': [[1], [1, 2]], 'dtype': 'float32'}])", ["__array__"]),
    ("array_big", "dict(" + LIN + ", args=[{'__array__': [0] * 5000, 'dtype': 'int64'}])", ["__array__", "4096"]),
    ("unknown_encoding", "dict(" + LIN + ", args=[{'__import__': 'os'}])", ["architecture.args[0]"]),
    ("unserializable", "dict(" + LIN + ", args=[{'__unserializable__': 'function'}])", ["architecture.args[0]"]),
    ("frozen_bad", "dict(" + LIN + ", frozen=['nope'])", ["architecture.frozen[0]", "nope"]),
    ("children_on_linear", "dict(" + LIN + ", children=[])", ["architecture.children"]),
    ("child_dotted", "{'class': 'fastconv.nn.container:Sequential', 'children': [['a.b', " + LIN + "]]}",
     ["architecture.children[0][0]"]),
    ("child_not_pair", "{'class': 'fastconv.nn.container:Sequential', 'children': [[" + LIN + "]]}",
     ["architecture.children[0]"]),
    ("deep_values", "dict(" + LIN + ", args=[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]])", ["nest more than"]),
    ("resnet_layers", "{'class': 'fastconv.models.resnet:ResNet', 'kwargs': [['layers', [10**9, 1, 1, 1]]]}",
     ["architecture"]),
    ("conv_padding_neg", "{'class': 'fastconv.nn.conv:Conv2d', 'args': [1, 4, 3], 'kwargs': [['padding', -5]]}",
     ["architecture", "padding", "-5"]),
]:
    case(f"load.{name}", f"fc.load(crafted({arch}, {PAD}))", V, ["m.safetensors"] + words)
case("load.linear_15000", "fc.load(crafted({'class': 'fastconv.nn.linear:Linear', 'args': [15000, 15000]}))", V,
     ["m.safetensors", "Linear(15000, 15000)", "225015000"], timeout=20)
case("load.vgg_budget", "fc.load(crafted({'class': 'fastconv.models.vgg:VGG', 'args': []}, "
     "{'a': np.zeros(100, np.float32)}))", V, ["m.safetensors", "100 elements"], timeout=20)
case("load.cwd_module_not_imported", "open(os.path.join(TMP, 'evilmod.py'), 'w').write('import sys; sys.exit(7)')\n"
     "sys.path.insert(0, TMP)\nfc.load(crafted({'class': 'evilmod:Net'}))", V, ["evilmod:Net", "not a registered"])
case("load.conv_padding_2**31_predict", "m = fc.load(crafted({'class': 'fastconv.nn.conv:Conv2d', 'args': [1, 4, 3],"
     " 'kwargs': [['padding', 2**31 - 3]]}, {'weight': np.ones((4, 1, 3, 3), np.float32), "
     "'bias': np.zeros(4, np.float32)}))\nfc.predict(m, x)", V, ["conv2d", "padding", "2147483645"])
case("load.deep_json", "fc.load(crafted(None, raw='[' * 100000 + ']' * 100000))", V, ["m.safetensors", "deeply"])
case("load.deep_modules", "a = " + LIN + "\nfor _ in range(60): a = {'class': 'fastconv.nn.container:Sequential', "
     "'children': [['0', a]]}\nfc.load(crafted(a))", V, ["m.safetensors", "nest more than"])
case("load.long_int", "fc.load(crafted(None, raw='{\"class\": ' + '9' * 5000 + '}'))", V, ["m.safetensors"])
case("load.bad_json", "fc.load(crafted(None, raw='{\"class\": '))", V, ["m.safetensors", "JSON"])
case("load.weights_shape", "m = nn.Linear(2, 3); fc.save(m, os.path.join(TMP, 'l.safetensors'))\n"
     "fc.load(os.path.join(TMP, 'l.safetensors'), model=nn.Linear(2, 4))", V, ["l.safetensors", "weight"])
case("load.missing_weights", "fc.load(crafted(" + LIN + ", {'weight': np.zeros((3, 2), np.float32)}))", V,
     ["m.safetensors", "Linear(2, 3) needs 9"])
case("load.missing_weights_2", "fc.load(crafted(" + LIN + ", {'weight': np.zeros((3, 2), np.float32), "
     "'bia': np.zeros(3, np.float32)}))", V, ["m.safetensors", "bias"])
case("load.extra_weights", "fc.load(crafted(" + LIN + ", {'weight': np.zeros((3, 2), np.float32), "
     "'bias': np.zeros(3, np.float32), 'evil': np.zeros(1, np.float32)}))", V, ["m.safetensors", "evil"])
case("load.empty_file", "open(os.path.join(TMP, 'e.safetensors'), 'wb').close()\n"
     "fc.load(os.path.join(TMP, 'e.safetensors'))", V, ["e.safetensors", "too short"])
case("load.header_len_huge", "fc.load(raw_file(struct.pack('<Q', 2**63) + b'{}'))", V, ["r.safetensors",
                                                                                          "header length"])
case("load.header_not_utf8", "fc.load(raw_file(struct.pack('<Q', 4) + b'\\xff\\xfe\\xfd\\xfc'))", V,
     ["r.safetensors", "UTF-8"])
case("load.tensor_shape_huge", "fc.load(header_file({'t': {'dtype': 'F32', 'shape': [2**31, 2**31], "
     "'data_offsets': [0, 0]}}))", V, ["h.safetensors", "shape"])
case("load.tensor_dims_40", "fc.load(header_file({'t': {'dtype': 'F32', 'shape': [1] * 40, "
     "'data_offsets': [0, 4]}}, b'\\0' * 4))", V, ["h.safetensors", "shape"])
case("load.tensor_offsets", "fc.load(header_file({'t': {'dtype': 'F32', 'shape': [2], 'data_offsets': [0, 4]}}, "
     "b'\\0' * 4))", V, ["h.safetensors", "'t'"])
case("load.tensor_dtype", "fc.load(header_file({'t': {'dtype': 'OBJ', 'shape': [1], 'data_offsets': [0, 4]}}, "
     "b'\\0' * 4))", V, ["h.safetensors", "dtype"])
case("load.overlap", "fc.load(header_file({'a': {'dtype': 'F32', 'shape': [1], 'data_offsets': [0, 4]}, "
     "'b': {'dtype': 'F32', 'shape': [1], 'data_offsets': [0, 4]}}, b'\\0' * 4))", V, ["h.safetensors"])
case("load.metadata_list", "fc.load(header_file({'__metadata__': [1]}))", V, ["h.safetensors", "__metadata__"])
case("load.not_fastconv", "fc.load(header_file({'__metadata__': {'format': 'pt'}}))", V,
     ["h.safetensors", "model="])
case("load.directory", "fc.load(TMP)", ("IsADirectoryError", "ValueError"), ["fc-battery-"])
case("load.missing_path", "fc.load(os.path.join(TMP, 'nope.safetensors'))", ("FileNotFoundError",),
     ["nope.safetensors"])
case("load.model_not_module", "fc.save(nn.Linear(2, 2), os.path.join(TMP, 'q.safetensors'))\n"
     "fc.load(os.path.join(TMP, 'q.safetensors'), model='x')", T, ["model"])

# ---- the CLI ---------------------------------------------------------------------------------------------------
case("cli.train_out_is_file", "open(os.path.join(TMP, 'f'), 'w').close()\ncli('train', '--out', "
     "os.path.join(TMP, 'f'))", CLI, ["--out", "not a folder"], timeout=30)
case("cli.train_epochs_0", "cli('train', '--epochs', '0')", CLI, ["--epochs", "'0'"])
case("cli.train_seed_neg", "cli('train', '--seed', '-1')", CLI, ["--seed", "'-1'"])
case("cli.train_lr_inf", "cli('train', '--lr', 'inf')", CLI, ["--lr", "'inf'"])
case("cli.train_model", "cli('train', '--model', 'resnet19', '--out', os.path.join(TMP, 'o'))", CLI,
     ["resnet19"], timeout=30)
case("cli.train_data", "cli('train', '--data', 'imagenet')", CLI, ["--data", "imagenet"])
case("cli.train_data_path", "cli('train', '--data', 'mnist:/nonexistent', '--out', os.path.join(TMP, 'o'))", CLI,
     ["/nonexistent"], timeout=30)
case("cli.train_image_size", "cli('train', '--image-size', '100000')", CLI, ["--image-size", "4096"])
case("cli.summary_shape", "cli('summary', 'smallcnn', '--input-shape', '3,0,4')", CLI, ["C,H,W"])
case("cli.summary_hostile_file", "cli('summary', crafted({'class': 'os:system', 'args': ['id']}))", CLI,
     ["m.safetensors", "os:system"])
case("cli.predict_missing", "cli('predict', os.path.join(TMP, 'nope.safetensors'), 'a.png')", CLI,
     ["nope.safetensors"])
case("cli.predict_corrupt", "cli('predict', raw_file(b'garbage!' * 4), 'a.png')", CLI, ["r.safetensors"])
case("cli.predict_top_k", "cli('predict', 'm.safetensors', 'a.png', '--top-k', '-1')", CLI, ["--top-k"])
case("cli.predict_hostile_shape", "p = crafted(" + LIN + ", {'weight': np.zeros((3, 2), np.float32), "
     "'bias': np.zeros(3, np.float32)}, extra={'fastconv_cli': json.dumps({'input_shape': [10**9, 10**9, 3]})})\n"
     "from PIL import Image; Image.new('L', (4, 4)).save(os.path.join(TMP, 'a.png'))\n"
     "cli('predict', p, os.path.join(TMP, 'a.png'))", CLI, ["input shape"])
case("cli.gradcam_alpha", "cli('gradcam', 'm.safetensors', 'a.png', '--alpha', '7')", CLI, ["--alpha"])
case("cli.gradcam_out_dir", "cli('gradcam', 'm.safetensors', 'a.png', '--out', TMP)", CLI, ["--out"])
case("cli.bench_which", "cli('bench', '--which', 'gpu')", CLI, ["--which", "gpu"])

# ---- top-level switches ------------------------------------------------------------------------------------------
case("set_isa.unknown", "fc.set_isa('avx1024')", V, ["avx1024"])
case("set_isa.int", "fc.set_isa(5)", T, ["set_isa"])
case("set_num_threads.0", "fc.set_num_threads(0)", V, ["'n'", "0"])
case("set_num_threads.2**63", "fc.set_num_threads(2**63)", V, ["'n'", "9223372036854775808"])
case("set_num_threads.str", "fc.set_num_threads('4')", V, ["'n'", "'4'"])
case("tensor.object", "fc.tensor(np.array([object()]))", T, ["dtype"])
case("from_numpy.strings", "fc.from_numpy(np.array(['a']))", T, ["dtype"])
case("manual_seed.str", "fc.manual_seed('abc')", VT, ["seed"], lead="manual_seed lives in _trace.py, the lead's")
