package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/api"
	"github.com/ocppd/ocppd/store"
)

const tokenUsage = `usage: ocppd token <create|list|revoke> [flags]

  create --name NAME [--read-only]
                   create an operator API token and print it ONCE; only its
                   SHA-256 is stored. Read-only tokens may only read (GET).
  list             list tokens (never the tokens themselves)
  revoke NAME|ID   revoke the active token with that id or name; requests
                   with it are refused (401) from then on

The commands work while "ocppd serve" runs on the same --data-dir, or on
the same PostgreSQL database with --db (and --db-schema).
`

func tokenCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokenUsage)
		return usageErrorf("token: no subcommand given")
	}
	sub, rest := args[0], args[1:]
	fs := newFlagSet("token "+sub, strings.TrimSpace(tokenUsage), stderr)
	var dbc dbConfig
	fs.StringVar(&dbc.DataDir, "data-dir", "./data", "directory of the SQLite database (without --db)")
	fs.StringVar(&dbc.URL, "db", "", "PostgreSQL store: postgres://user@host:5432/db; empty uses SQLite under --data-dir")
	fs.StringVar(&dbc.Schema, "db-schema", "", "PostgreSQL schema holding ocppd's tables")
	var name *string
	var readOnly, asJSON *bool
	switch sub {
	case "create":
		name = fs.String("name", "", "what the token is for: a person, a dashboard (required; one active token per name)")
		readOnly = fs.Bool("read-only", false, "the token may only read (GET requests)")
	case "list":
		asJSON = fs.Bool("json", false, "print JSON instead of a table")
	case "revoke":
	default:
		fmt.Fprint(stderr, tokenUsage)
		return usageErrorf("token: unknown subcommand %q", sub)
	}
	opts, err := loadFlags(fs, rest)
	if err != nil {
		return err
	}
	switch {
	case sub == "create" && strings.TrimSpace(*name) == "":
		return usageErrorf("token create: --name is required")
	case sub == "create" && len(opts.args) > 0:
		return usageErrorf("token create: unexpected argument %q (the name goes in --name)", opts.args[0])
	case sub == "revoke" && len(opts.args) != 1:
		return usageErrorf("token revoke: give one token id or name")
	case sub == "list" && len(opts.args) > 0:
		return usageErrorf("token list: unexpected argument %q", opts.args[0])
	}
	db, err := dbc.openStore(ctx, nil)
	if err != nil {
		return err
	}
	defer db.Close()

	switch sub {
	case "create":
		secret, tok, err := api.NewToken(strings.TrimSpace(*name), *readOnly, time.Now())
		if err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		if err := db.CreateToken(ctx, tok); err != nil {
			if ocppd.ErrorCode(err) == ocppd.ECONFLICT {
				return fmt.Errorf("token create: %s (revoke it first: ocppd token revoke %s)", ocppd.ErrorMessage(err), tok.Name)
			}
			return fmt.Errorf("token create: %w", err)
		}
		kind := "token"
		if tok.ReadOnly {
			kind = "read-only token"
		}
		// The secret alone on its own line, so that scripts can take the
		// last line; the explanation goes to stderr.
		fmt.Fprintf(stderr, "created %s %s (%s). It is shown only this once; store it now:\n", kind, tok.Name, tok.ID)
		fmt.Fprintln(stdout, secret)
		return nil
	case "list":
		toks, err := db.ListTokens(ctx)
		if err != nil {
			return err
		}
		return printTokens(stdout, toks, *asJSON)
	case "revoke":
		tok, err := db.RevokeToken(ctx, opts.args[0], time.Now())
		if err != nil {
			if ocppd.ErrorCode(err) == ocppd.ENOTFOUND {
				return fmt.Errorf("token revoke: no active token with id or name %q", opts.args[0])
			}
			return fmt.Errorf("token revoke: %w", err)
		}
		fmt.Fprintf(stdout, "revoked %s (%s)\n", tok.Name, tok.ID)
	}
	return nil
}

func printTokens(w io.Writer, toks []store.Token, asJSON bool) error {
	if asJSON {
		if toks == nil {
			toks = []store.Token{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(toks)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tACCESS\tCREATED\tREVOKED")
	for _, t := range toks {
		access, revoked := "read-write", "-"
		if t.ReadOnly {
			access = "read-only"
		}
		if !t.Active() {
			revoked = t.RevokedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, access, t.CreatedAt.UTC().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}
