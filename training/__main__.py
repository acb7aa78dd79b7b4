"""Train and export the demo classifier and the explainer models, and pack them into a bundle."""
import argparse
import sys
import time

from . import classifier, fixtures


def _common(parser, steps=False, epochs=False):
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="folder with the IDX files")
    parser.add_argument("--out", default="resources/models/fashion-mnist-cnn", help="the bundle folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    if steps:
        parser.add_argument("--steps", type=int, default=0, help="training steps (0: the documented default)")
    if epochs:
        parser.add_argument("--epochs", type=int, default=0, help="training epochs (0: the documented default)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    _common(sub.add_parser("all", help="everything below in order (the default command)"))
    demo = sub.add_parser("classifier", help="train and export the demo CNN classifier")
    _common(demo)
    demo.add_argument("--epochs", type=int, default=6)
    _common(sub.add_parser("dxai", help="train the DXAI decomposer for the bundle's classifier"), steps=True)
    _common(sub.add_parser("cae", help="train the CAE class-association encoder and decoder"), steps=True)
    _common(sub.add_parser("infodisent", help="train the InfoDisent head on the classifier's last feature map"),
            epochs=True)
    _common(sub.add_parser("bundle", help="hash the trained files and write bundle.json and reference.json"))
    fixture = sub.add_parser("fixtures", help="write the small known-weight ONNX models the tests use")
    fixture.add_argument("--out", default="test/fixtures/models")
    cams = sub.add_parser("cam-reference", help="train three small CNNs briefly and write PyTorch reference CAM maps")
    cams.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    cams.add_argument("--out", default="test/fixtures/cam")
    cams.add_argument("--seed", type=int, default=0)
    cams.add_argument("--threads", type=int, default=2)
    bench = sub.add_parser("benchmark", help="write the colour benchmark with known evidence (training/benchmark.py)")
    bench.add_argument("--out", default="build/benchmark")
    bench.add_argument("--train", type=int, default=4000)
    bench.add_argument("--test", type=int, default=800)
    bench.add_argument("--seed", type=int, default=0)
    mine = sub.add_parser("explainers", help="train DXAI, CAE and InfoDisent for any classifier and dataset "
                                              "(training/explainers.py)")
    mine.add_argument("--model", required=True, help="the classifier: an ONNX file (the app runs it)")
    mine.add_argument("--torchscript", help="the same classifier as TorchScript, run in the training loop instead")
    mine.add_argument("--manifest", required=True, help="its manifest (docs/MANIFEST.md)")
    mine.add_argument("--data", required=True, help="class folders, a CSV, an IDX folder or the app's training set")
    mine.add_argument("--out", required=True, help="the bundle folder to write (resumes what is there)")
    mine.add_argument("--roles", default="dxai,cae,infodisent")
    mine.add_argument("--steps", default="0", help="DXAI and CAE steps (0: the size's default), or one count a role: "
                                                   "dxai=4000,cae=2000; more steps than a run has done go on from it")
    mine.add_argument("--epochs", type=int, default=0, help="InfoDisent epochs (0: the default)")
    mine.add_argument("--seed", type=int, default=0)
    mine.add_argument("--threads", type=int, default=2)
    bench_model = sub.add_parser("benchmark-classifier", help="train the colour benchmark's small ResNet "
                                                              "(training/benchmark_classifier.py)")
    bench_model.add_argument("--out", default="build/benchmark-model")
    bench_model.add_argument("--train", type=int, default=4000)
    bench_model.add_argument("--test", type=int, default=800)
    bench_model.add_argument("--epochs", type=int, default=12)
    bench_model.add_argument("--seed", type=int, default=0)
    bench_model.add_argument("--threads", type=int, default=2)
    bench_model.add_argument("--clever-hans", action="store_true",
                             help="swap the shortcut class's training objects for the next class's: a model that can only "
                                  "learn the corner mark for that class (for the strategy discovery's check)")
    bench_demo = sub.add_parser("benchmark-demo", help="write the colour benchmark demo's files under resources/ "
                                                       "(training/benchmark_demo.py)")
    bench_demo.add_argument("--bundle", required=True, help="the benchmark classifier's explainer bundle")
    bench_demo.add_argument("--data", default="resources/datasets/colour-benchmark")
    bench_demo.add_argument("--models", default="resources/models/colour-benchmark-resnet")
    bench_demo.add_argument("--test", type=int, default=800)
    bench_demo.add_argument("--seed", type=int, default=0)
    modern = sub.add_parser("modern-ops", help="write op-by-op gradient fixtures for the ops of modern architectures")
    modern.add_argument("--out", default="test/fixtures/cam")
    args = parser.parse_args(argv if argv is not None else (sys.argv[1:] or ["all"]))

    started = time.time()
    if args.command == "benchmark":
        from . import benchmark
        written = benchmark.build(args.out, args.train, args.test, args.seed)
        print(f"{len(written['images'])} images in {time.time() - started:.0f} s", flush=True)
        return 0
    if args.command == "benchmark-classifier":
        from . import benchmark_classifier
        benchmark_classifier.train(args.out, args.train, args.test, args.epochs, args.seed, args.threads,
                                   args.clever_hans)
        return 0
    if args.command == "benchmark-demo":
        import json
        from . import benchmark_demo
        print(json.dumps(benchmark_demo.build(args.bundle, args.data, args.models, args.test, args.seed), indent=1))
        return 0
    if args.command == "explainers":
        from . import explainers
        return explainers.main(args)
    from . import bundle, pipeline  # torch-heavy imports only when a training command runs

    if args.command == "fixtures":
        fixtures.build(args.out)
        return 0
    if args.command == "modern-ops":
        from . import modern_ops
        print(f"{len(modern_ops.build(args.out)['cases'])} cases", flush=True)
        return 0
    if args.command == "cam-reference":
        from . import cam_reference
        cam_reference.build(args.out, args.data, args.seed, args.threads)
        print(f"done in {time.time() - started:.0f} s", flush=True)
        return 0
    if args.command in ("classifier", "all"):
        result = classifier.train(args.data, args.out, getattr(args, "epochs", 6) or 6, args.seed, args.threads)
        if result["testAccuracy"] < 0.90:
            print(f"test accuracy {result['testAccuracy']:.4f} is below the 0.90 target", file=sys.stderr)
            return 1
    if args.command == "all":
        args.steps, args.epochs = 0, 0
    for name, step in (("dxai", pipeline.run_dxai), ("cae", pipeline.run_cae), ("infodisent", pipeline.run_infodisent)):
        if args.command in (name, "all"):
            step(args)
    if args.command in ("bundle", "all"):
        bundle.write(args.out, args.data)
    print(f"done in {time.time() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
