package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ocppd/ocppd"
	"github.com/ocppd/ocppd/ocpp"
	"github.com/ocppd/ocppd/store"
)

const cpUsage = `usage: ocppd cp <add|list|rm|passwd|security-profile> [flags] [ID…]

  add ID…          register stations (also --file FILE, one id a line, and
                   --range LOAD000001-LOAD019000); all in one transaction
  list             list registered stations
  rm ID…           remove stations and everything stored about them
  passwd ID        set the station's HTTP Basic password (security profiles
                   1, 2): generated and printed once, or --password; only
                   a salted hash is stored (see docs/security.md)
  security-profile ID [N]
                   show, or set to N (0–3), the lowest security profile the
                   station may connect with; it rises by itself when the
                   station connects with a higher one (no downgrade)

The commands work while "ocppd serve" runs on the same --data-dir, or on
the same PostgreSQL database with --db (and --db-schema).
`

func cpCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, cpUsage)
		return usageErrorf("cp: no subcommand given")
	}
	sub, rest := args[0], args[1:]
	fs := newFlagSet("cp "+sub, strings.TrimSpace(cpUsage), stderr)
	var dbc dbConfig
	fs.StringVar(&dbc.DataDir, "data-dir", "./data", "directory of the SQLite database (without --db)")
	fs.StringVar(&dbc.URL, "db", "", "PostgreSQL store: postgres://user@host:5432/db; empty uses SQLite under --data-dir")
	fs.StringVar(&dbc.Schema, "db-schema", "", "PostgreSQL schema holding ocppd's tables")
	var file, idRange, status *string
	var asJSON *bool
	var pw *passwdFlags
	switch sub {
	case "add":
		file = fs.String("file", "", "file with one station id a line ('-' for standard input)")
		idRange = fs.String("range", "", "numbered range of ids, e.g. LOAD000001-LOAD019000")
		status = fs.String("status", "Accepted", "registration status answered to BootNotification: Accepted, Pending or Rejected")
	case "list":
		asJSON = fs.Bool("json", false, "print JSON instead of a table")
	case "rm":
	case "passwd":
		pw = addPasswdFlags(fs) // security.go
	case "security-profile":
	default:
		fmt.Fprint(stderr, cpUsage)
		return usageErrorf("cp: unknown subcommand %q", sub)
	}
	opts, err := loadFlags(fs, rest)
	if err != nil {
		return err
	}
	db, err := dbc.openStore(ctx, nil)
	if err != nil {
		return err
	}
	defer db.Close()

	switch sub {
	case "add":
		ids, err := collectIDs(opts.args, *file, *idRange)
		if err != nil {
			return err
		}
		reg := ocppd.RegistrationStatus(*status)
		if !reg.Valid() {
			return usageErrorf("--status %q: expected Accepted, Pending or Rejected", *status)
		}
		now := time.Now().UTC()
		cps := make([]ocppd.ChargePoint, len(ids))
		for i, id := range ids {
			cps[i] = ocppd.ChargePoint{ID: id, Registration: reg, RegisteredAt: now}
		}
		if err := db.AddChargePoints(ctx, cps); err != nil {
			return fmt.Errorf("add: %s", ocppd.ErrorMessage(err))
		}
		if len(ids) == 1 {
			fmt.Fprintf(stdout, "added %s (%s)\n", ids[0], reg)
		} else {
			fmt.Fprintf(stdout, "added %d charge points (%s)\n", len(ids), reg)
		}
	case "list":
		return listChargePoints(ctx, db, stdout, *asJSON)
	case "passwd":
		return setPassword(ctx, db, opts.args, pw, stdout)
	case "security-profile":
		return securityProfileCommand(ctx, db, opts.args, stdout) // security.go
	case "rm":
		if len(opts.args) == 0 {
			return usageErrorf("cp rm: give at least one station id")
		}
		for _, id := range opts.args {
			if err := db.DeleteChargePoint(ctx, id); err != nil {
				if ocppd.ErrorCode(err) == ocppd.ENOTFOUND {
					return fmt.Errorf("rm: charge point %s is not registered", id)
				}
				return fmt.Errorf("rm %s: %w", id, err)
			}
			fmt.Fprintf(stdout, "removed %s\n", id)
		}
	}
	return nil
}

// collectIDs gathers station ids from the arguments, a file and a range,
// validates each and refuses duplicates.
func collectIDs(args []string, file, idRange string) ([]string, error) {
	ids := append([]string(nil), args...)
	if file != "" {
		var r io.Reader = os.Stdin
		if file != "-" {
			f, err := os.Open(file)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			r = f
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
				ids = append(ids, line)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
	}
	if idRange != "" {
		r, err := expandRange(idRange)
		if err != nil {
			return nil, err
		}
		ids = append(ids, r...)
	}
	if len(ids) == 0 {
		return nil, usageErrorf("cp add: give station ids, --file or --range")
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if err := ocpp.ValidateIdentity(id); err != nil {
			return nil, usageErrorf("station id %q: %v", id, err)
		}
		if seen[id] {
			return nil, usageErrorf("station id %q is given twice", id)
		}
		seen[id] = true
	}
	return ids, nil
}

// maxRange bounds --range so a typo cannot register millions of stations.
const maxRange = 1_000_000

// expandRange turns "LOAD000001-LOAD000003" into LOAD000001, LOAD000002,
// LOAD000003: both ends share a prefix and a zero-padded number of the same
// width.
func expandRange(s string) ([]string, error) {
	from, to, ok := strings.Cut(s, "-")
	split := func(x string) (string, string) {
		i := len(x)
		for i > 0 && x[i-1] >= '0' && x[i-1] <= '9' {
			i--
		}
		return x[:i], x[i:]
	}
	p1, n1 := split(from)
	p2, n2 := split(to)
	if !ok || n1 == "" || n2 == "" || p1 != p2 || len(n1) != len(n2) {
		return nil, usageErrorf("--range %q: expected PREFIX0001-PREFIX0100 (same prefix, same number width)", s)
	}
	a, _ := strconv.Atoi(n1)
	b, _ := strconv.Atoi(n2)
	if b < a {
		return nil, usageErrorf("--range %q: the end is before the start", s)
	}
	if b-a+1 > maxRange {
		return nil, usageErrorf("--range %q: %d ids; at most %d at once", s, b-a+1, maxRange)
	}
	out := make([]string, 0, b-a+1)
	for n := a; n <= b; n++ {
		out = append(out, fmt.Sprintf("%s%0*d", p1, len(n1), n))
	}
	return out, nil
}

func listChargePoints(ctx context.Context, st store.ChargePoints, w io.Writer, asJSON bool) error {
	cps, err := st.ListChargePoints(ctx, store.ListOptions{})
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if cps == nil {
			cps = []ocppd.ChargePoint{}
		}
		return enc.Encode(cps)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREGISTRATION\tONLINE\tPROTOCOL\tLAST SEEN")
	for _, cp := range cps {
		seen := "-"
		if !cp.LastSeen.IsZero() {
			seen = cp.LastSeen.UTC().Format(time.RFC3339)
		}
		proto := cp.Protocol
		if proto == "" {
			proto = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", cp.ID, cp.Registration, cp.Online, proto, seen)
	}
	return tw.Flush()
}
