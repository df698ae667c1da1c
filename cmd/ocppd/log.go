package main

import (
	"flag"
	"io"
	"log/slog"
)

type logConfig struct {
	format string
	level  string
}

// addLogFlags defines --log-format and --log-level on fs.
func addLogFlags(fs *flag.FlagSet) *logConfig {
	c := &logConfig{}
	fs.StringVar(&c.format, "log-format", "json", "log format: json (structured, one object per line) or text")
	fs.StringVar(&c.level, "log-level", "info", "log level: debug, info, warn or error")
	return c
}

// logger builds the slog logger the flags describe, writing to w.
func (c *logConfig) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.level)); err != nil {
		return nil, usageErrorf("--log-level %q: expected debug, info, warn or error", c.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usageErrorf("--log-format %q: expected json or text", c.format)
}
