"""The command line of `make package|deploy|destroy`; see scripts/deploy/__init__.py for the layers."""

from __future__ import annotations

import argparse
import sys

from scripts.deploy import DeployError, aws, packaging, stack_name

ROLE_ARN_HELP = "the CloudFormation service role to deploy through (the CI pipeline's; docs/deploy.md)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("package", "deploy", "destroy"):
        command = commands.add_parser(name)
        command.add_argument("--stage", default="prod")
        if name != "package":
            command.add_argument("--role-arn", help=ROLE_ARN_HELP)
        if name == "deploy":
            command.add_argument("--seed", action="store_true", help="write the demo tenants acme and globex")
            command.add_argument(
                "--parameter", action="append", default=[], metavar="KEY=VALUE", help="a template parameter"
            )
        if name == "destroy":
            command.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    try:
        if args.command == "package":
            built = packaging.package(args.stage)
            packaging.lint(built.template)
            print(f"cfn-lint: {built.template} passes", flush=True)
        elif args.command == "deploy":
            parameters = dict(item.split("=", 1) for item in args.parameter)
            aws.deploy(args.stage, seed=args.seed, parameters=parameters, role_arn=args.role_arn)
        else:
            stack = stack_name(args.stage)
            if not args.yes:
                question = (
                    f"Delete stack {stack}, its carts and products tables (and their data), API and storefront?"
                    f" The orders and tenants tables are kept. Type {stack}: "
                )
                if input(question).strip() != stack:
                    print("not deleted", file=sys.stderr)
                    return 1
            aws.destroy(args.stage, role_arn=args.role_arn)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
