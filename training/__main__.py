import argparse
import sys

from . import classifier, fixtures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("classifier", help="train and export the demo CNN classifier")
    demo.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="folder with the IDX files")
    demo.add_argument("--out", default="resources/models/fashion-mnist-cnn")
    demo.add_argument("--epochs", type=int, default=6)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--threads", type=int, default=2)
    fixture = sub.add_parser("fixtures", help="write the small known-weight ONNX models the tests use")
    fixture.add_argument("--out", default="test/fixtures/models")
    args = parser.parse_args(argv)
    if args.command == "fixtures":
        fixtures.build(args.out)
    if args.command == "classifier":
        result = classifier.train(args.data, args.out, args.epochs, args.seed, args.threads)
        if result["testAccuracy"] < 0.90:
            print(f"test accuracy {result['testAccuracy']:.4f} is below the 0.90 target", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
