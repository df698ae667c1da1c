package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// options is the outcome of loadFlags: which flags were set explicitly (on
// the command line, in the environment or in the config file) and the
// config file's sections that are not flags (such as "rules").
type options struct {
	args     []string // positional arguments, in order
	set      map[string]bool
	sections map[string]yaml.Node
}

// explicit reports whether flag name was set by the user rather than left
// at its default.
func (o options) explicit(name string) bool { return o.set[name] }

// envName is the environment variable of a flag: OCPPD_ and the flag name
// in upper case with dashes as underscores (--ocpp-addr → OCPPD_OCPP_ADDR).
func envName(flagName string) string {
	return "OCPPD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// loadFlags parses args into fs and fills every flag not given on the
// command line from its environment variable, then from the YAML config
// file named by --config (or OCPPD_CONFIG). Precedence: command line,
// environment, config file, default. Config file keys are flag names; keys
// listed in sections are returned unparsed; any other key is an error, so a
// typo in a config file is reported rather than silently ignored.
func loadFlags(fs *flag.FlagSet, args []string, sections ...string) (options, error) {
	if fs.Lookup("config") == nil {
		fs.String("config", "", "YAML config file whose keys are flag names (env OCPPD_CONFIG)")
	}
	o := options{set: map[string]bool{}, sections: map[string]yaml.Node{}}
	// Flags may come before, between or after positional arguments
	// ("ocppd cp add CP1 --data-dir x").
	for {
		if err := fs.Parse(args); err != nil {
			return o, err
		}
		if fs.NArg() == 0 {
			break
		}
		o.args = append(o.args, fs.Arg(0))
		args = fs.Args()[1:]
	}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })

	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if o.set[f.Name] || envErr != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("environment %s=%q: %v", envName(f.Name), v, err)
				return
			}
			o.set[f.Name] = true
		}
	})
	if envErr != nil {
		return o, envErr
	}

	path := fs.Lookup("config").Value.String()
	if path == "" {
		return o, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return o, fmt.Errorf("config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return o, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return o, nil // empty file
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return o, fmt.Errorf("config file %s: line %d: expected a mapping of flag names to values", path, top.Line)
	}
	isSection := map[string]bool{}
	for _, s := range sections {
		isSection[s] = true
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch {
		case isSection[k.Value]:
			o.sections[k.Value] = *v
			continue
		case k.Value == "config":
			return o, fmt.Errorf("config file %s: line %d: a config file cannot name another config file", path, k.Line)
		case fs.Lookup(k.Value) == nil:
			return o, fmt.Errorf("config file %s: line %d: unknown key %q (known: %s)", path, k.Line, k.Value, knownKeys(fs, sections))
		}
		if o.set[k.Value] {
			continue // command line and environment win
		}
		if v.Kind != yaml.ScalarNode {
			return o, fmt.Errorf("config file %s: line %d: key %q: expected a single value", path, v.Line, k.Value)
		}
		if err := fs.Set(k.Value, v.Value); err != nil {
			return o, fmt.Errorf("config file %s: line %d: key %q: %v", path, v.Line, k.Value, err)
		}
		o.set[k.Value] = true
	}
	return o, nil
}

func knownKeys(fs *flag.FlagSet, sections []string) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "config" {
			names = append(names, f.Name)
		}
	})
	names = append(names, sections...)
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// errUsage marks errors that are the user's mistake on the command line;
// main prints them with the usage hint and exits 2.
var errUsage = errors.New("usage")

// usageErrorf returns an error wrapping errUsage.
func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints flag help (with each flag's environment variable) to the command's
// stderr.
func newFlagSet(name, summary string, stderr interface{ Write([]byte) (int, error) }) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ocppd %s\n\n%s\n\nflags (each also OCPPD_<NAME> in the environment and a key in --config):\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}
