// Command ocppd is the OCPP gateway and charging station management system:
// `ocppd serve` runs it, `ocppd cp` manages the station registry and
// `ocppd sim` simulates a charge point.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `ocppd — OCPP gateway and charging station management system

usage: ocppd <command> [flags]

commands:
  serve     run the gateway, the CSMS and the operator HTTP server
  cp        manage the charge point registry (add, list, rm)
  token     manage operator API tokens (create, list, revoke)
  sim       simulate a charge point
  load      load-test a server with many simulated charge points
  version   print the version

Run "ocppd <command> -h" for the flags of a command. Every flag can also be
set as OCPPD_<FLAG_NAME> in the environment or as a key in a YAML file given
with --config.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "ocppd: %v\n", err)
		os.Exit(2)
	default:
		// "ocppd sim: 1008 (policy violation) Charge Point CP2 not registered"
		prefix := "ocppd"
		if len(os.Args) > 1 {
			prefix += " " + os.Args[1]
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", prefix, err)
		os.Exit(1)
	}
}

// run dispatches to a subcommand. It returns when the command is done or
// ctx is cancelled (SIGINT/SIGTERM).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageErrorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serveCommand(ctx, rest, stdout, stderr)
	case "token":
		return tokenCommand(ctx, rest, stdout, stderr)
	case "cp":
		return cpCommand(ctx, rest, stdout, stderr)
	case "sim":
		return simCommand(ctx, rest, stdout, stderr)
	case "load":
		return loadCommand(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "ocppd", version)
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageErrorf("unknown command %q", cmd)
}
