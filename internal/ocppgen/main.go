// Command ocppgen generates the OCPP message packages (ocpp/v16, ocpp/v201,
// ocpp/v21) from the official JSON schemas: Go types for every request and
// response with their enums and nested types, and for each type a
// reflection-free decoder that validates while it reads, an outbound
// validator and an encoder, all equivalent to the schema.
//
// It is run by go generate in each package:
//
//	//go:generate go run ../../internal/ocppgen -version 2.0.1 -package v201
//
// The schemas are read from tools/schemas/node_modules (npm ci installs
// them there when missing); they are not committed, the generated Go is.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ocppd/ocppd/internal/ocppschema"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("ocppgen: ")
	version := flag.String("version", "", "OCPP version: 1.6, 2.0.1 or 2.1")
	pkg := flag.String("package", "", "Go package name")
	out := flag.String("out", "messages_gen.go", "output file")
	flag.Parse()
	if *version == "" || *pkg == "" {
		log.Fatal("usage: ocppgen -version 2.0.1 -package v201 [-out file]")
	}
	list, err := ocppschema.Load(*version, true)
	if err != nil {
		log.Fatal(err)
	}
	naming := autoName
	if *version == "1.6" {
		naming = name16
	}
	m, err := build(*version, list, naming)
	if err != nil {
		log.Fatal(err)
	}
	files, err := emit(m, *pkg, filepath.Base(*out))
	if err != nil {
		log.Fatal(err)
	}
	dir := filepath.Dir(*out)
	keep := map[string]bool{}
	for _, f := range files {
		keep[f.name] = true
		if err := os.WriteFile(filepath.Join(dir, f.name), f.src, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	// Remove parts left over from an output that had more of them.
	stale, _ := filepath.Glob(filepath.Join(dir, partGlob(filepath.Base(*out))))
	for _, p := range stale {
		if !keep[filepath.Base(p)] {
			if err := os.Remove(p); err != nil {
				log.Fatal(err)
			}
		}
	}
}

// maxPartBytes bounds the size of each generated file: the message types
// of a version are split over as many parts as needed, so that no file is
// unwieldy to read, diff or review (OCPP 2.1's would be 1.3 MB in one).
const maxPartBytes = 512 << 10

// genFile is one generated Go file.
type genFile struct {
	name string
	src  []byte
}

// partName is the name of the n-th part (n ≥ 2) of the output base, e.g.
// messages_gen_2.go.
func partName(base string, n int) string {
	return fmt.Sprintf("%s_%d.go", strings.TrimSuffix(base, ".go"), n)
}

// partGlob matches every part of the output base but the first.
func partGlob(base string) string { return strings.TrimSuffix(base, ".go") + "_*.go" }

// autoName names an inline object or enum (the 2.x schemas name all of
// theirs in definitions, so this is a fallback).
func autoName(action, parent, prop string, enum bool) string {
	n := goName(prop)
	if enum {
		return n + "EnumType"
	}
	return n + "Type"
}

// names16 gives the inline objects and enums of the OCPP 1.6 schemas the
// names the OCPP 1.6 specification (§7 Types) uses. Keys are
// "Action.property", or "property" for every action.
var names16 = map[string]string{
	"idTagInfo":                            "IdTagInfo",
	"status@IdTagInfo":                     "AuthorizationStatus",
	"BootNotification.status":              "RegistrationStatus",
	"CancelReservation.status":             "CancelReservationStatus",
	"ChangeAvailability.type":              "AvailabilityType",
	"ChangeAvailability.status":            "AvailabilityStatus",
	"ChangeConfiguration.status":           "ConfigurationStatus",
	"ClearCache.status":                    "ClearCacheStatus",
	"chargingProfilePurpose":               "ChargingProfilePurposeType",
	"ClearChargingProfile.status":          "ClearChargingProfileStatus",
	"DataTransfer.status":                  "DataTransferStatus",
	"DiagnosticsStatusNotification.status": "DiagnosticsStatus",
	"FirmwareStatusNotification.status":    "FirmwareStatus",
	"chargingRateUnit":                     "ChargingRateUnitType",
	"GetCompositeSchedule.status":          "GetCompositeScheduleStatus",
	"chargingSchedule":                     "ChargingSchedule",
	"chargingSchedulePeriod":               "ChargingSchedulePeriod",
	"configurationKey":                     "KeyValue",
	"meterValue":                           "MeterValue",
	"transactionData":                      "MeterValue",
	"sampledValue":                         "SampledValue",
	"context":                              "ReadingContext",
	"format":                               "ValueFormat",
	"measurand":                            "Measurand",
	"phase":                                "Phase",
	"location":                             "Location",
	"unit":                                 "UnitOfMeasure",
	"chargingProfile":                      "ChargingProfile",
	"csChargingProfiles":                   "ChargingProfile",
	"chargingProfileKind":                  "ChargingProfileKindType",
	"recurrencyKind":                       "RecurrencyKindType",
	"RemoteStartTransaction.status":        "RemoteStartStopStatus",
	"RemoteStopTransaction.status":         "RemoteStartStopStatus",
	"ReserveNow.status":                    "ReservationStatus",
	"Reset.type":                           "ResetType",
	"Reset.status":                         "ResetStatus",
	"localAuthorizationList":               "AuthorizationData",
	"SendLocalList.updateType":             "UpdateType",
	"SendLocalList.status":                 "UpdateStatus",
	"SetChargingProfile.status":            "ChargingProfileStatus",
	"StatusNotification.errorCode":         "ChargePointErrorCode",
	"StatusNotification.status":            "ChargePointStatus",
	"StopTransaction.reason":               "Reason",
	"TriggerMessage.requestedMessage":      "MessageTrigger",
	"TriggerMessage.status":                "TriggerMessageStatus",
	"UnlockConnector.status":               "UnlockStatus",
}

func name16(action, parent, prop string, enum bool) string {
	if n, ok := names16[prop+"@"+parent]; ok {
		return n
	}
	if n, ok := names16[action+"."+prop]; ok {
		return n
	}
	if n, ok := names16[prop]; ok {
		return n
	}
	if prop == "status" || prop == "type" {
		return action + goName(prop)
	}
	return goName(prop)
}

// emit generates the package: base holds the dispatch functions, the enums
// and the helpers; the message structs follow in parts of at most about
// maxPartBytes each (base_2.go, base_3.go, …).
func emit(m *model, pkg, base string) ([]genFile, error) {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	actions := make([]string, 0, len(m.messages))
	for a := range m.messages {
		actions = append(actions, a)
	}
	sort.Strings(actions)

	w("// Actions lists every action of OCPP %s, in alphabetical order.\n", m.version)
	w("var Actions = []string{\n")
	for _, a := range actions {
		w("\t%q,\n", a)
	}
	w("}\n\n")

	// Dispatch.
	w("// DecodeRequest decodes and validates the payload of a CALL (or SEND) of\n")
	w("// action and returns a pointer to its request type, e.g.\n// *BootNotificationRequest. An unknown action is an\n")
	w("// *ocpp.ValidationError of kind ocpp.ErrNotImplemented; a payload that\n// breaks the schema is an *ocpp.ValidationError naming the field.\n")
	w("func DecodeRequest(action string, payload []byte, opts ocpp.DecodeOptions) (any, error) {\n\tswitch action {\n")
	for _, a := range actions {
		msg := m.messages[a]
		w("\tcase %q:\n\t\tm := new(%s)\n\t\tif err := run(m, payload, opts); err != nil {\n\t\t\treturn nil, err\n\t\t}\n\t\treturn m, nil\n", a, msg.req.name)
	}
	w("\t}\n\treturn nil, unknownAction(action)\n}\n\n")
	w("// DecodeResponse decodes and validates the payload of the CALLRESULT\n// answering a CALL of action and returns a pointer to its response type.\n")
	w("func DecodeResponse(action string, payload []byte, opts ocpp.DecodeOptions) (any, error) {\n\tswitch action {\n")
	for _, a := range actions {
		msg := m.messages[a]
		if msg.resp == nil {
			w("\tcase %q:\n\t\treturn nil, &ocpp.ValidationError{Kind: ocpp.ErrNotSupported, Message: %q}\n", a, a+" is sent with SEND and has no response")
			continue
		}
		w("\tcase %q:\n\t\tm := new(%s)\n\t\tif err := run(m, payload, opts); err != nil {\n\t\t\treturn nil, err\n\t\t}\n\t\treturn m, nil\n", a, msg.resp.name)
	}
	w("\t}\n\treturn nil, unknownAction(action)\n}\n\n")
	w("// Validate checks a message built in Go (a request or response type of\n// this package, or a pointer to one) against the schema, with the rules\n// DecodeRequest and DecodeResponse apply (strictly).\n")
	w("func Validate(msg any) error {\n\tswitch m := msg.(type) {\n")
	for _, a := range actions {
		msg := m.messages[a]
		for _, t := range []*goType{msg.req, msg.resp} {
			if t == nil {
				continue
			}
			w("\tcase *%s:\n\t\treturn m.validate()\n\tcase %s:\n\t\treturn m.validate()\n", t.name, t.name)
		}
	}
	w("\t}\n\treturn notMessage(msg)\n}\n\n")
	w("// Action returns the action of a request or response type of this\n// package (or a pointer to one), and whether msg is a request.\n")
	w("func Action(msg any) (action string, request bool, ok bool) {\n\tswitch msg.(type) {\n")
	for _, a := range actions {
		msg := m.messages[a]
		w("\tcase *%s, %s:\n\t\treturn %q, true, true\n", msg.req.name, msg.req.name, a)
		if msg.resp != nil {
			w("\tcase *%s, %s:\n\t\treturn %q, false, true\n", msg.resp.name, msg.resp.name, a)
		}
	}
	w("\t}\n\treturn \"\", false, false\n}\n\n")

	// Types sorted by name for a stable output.
	types := append([]*goType(nil), m.order...)
	sort.Slice(types, func(i, j int) bool { return types[i].name < types[j].name })
	for _, t := range types {
		if t.isEnum {
			emitEnum(&b, t)
		}
	}
	w("type decodable interface{ decode(*ocppjson.Decoder) error }\n\n")
	w("func run(m decodable, payload []byte, opts ocpp.DecodeOptions) error {\n\td := ocppjson.Get(payload, opts)\n\terr := m.decode(d)\n\tif err == nil {\n\t\terr = d.End()\n\t}\n\tocppjson.Put(d)\n\treturn err\n}\n\n")
	w("func unknownAction(action string) error {\n\treturn &ocpp.ValidationError{Kind: ocpp.ErrNotImplemented, Message: \"action \" + action + \" is not defined in OCPP %s\"}\n}\n\n", m.version)
	w("func notMessage(msg any) error {\n\treturn &ocpp.ValidationError{Kind: ocpp.ErrGeneric, Message: fmt.Sprintf(\"%%T is not an OCPP %s message type\", msg)}\n}\n\n", m.version)
	first, err := finish(m.version, pkg, b.String())
	if err != nil {
		return nil, err
	}
	files := []genFile{{name: base, src: first}}
	var part bytes.Buffer
	flush := func() error {
		if part.Len() == 0 {
			return nil
		}
		src, err := finish(m.version, pkg, part.String())
		if err != nil {
			return err
		}
		files = append(files, genFile{name: partName(base, len(files)+1), src: src})
		part.Reset()
		return nil
	}
	for _, t := range types {
		if t.isEnum {
			continue
		}
		if part.Len() >= maxPartBytes {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		emitStruct(&part, t)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return files, nil
}

// finish adds the header and the imports body uses, and formats the file.
func finish(version, pkg, body string) ([]byte, error) {
	var h bytes.Buffer
	fmt.Fprintf(&h, "// Code generated by ocppgen from the official OCPP %s JSON schemas; DO NOT EDIT.\n\n", version)
	fmt.Fprintf(&h, "package %s\n\nimport (\n", pkg)
	for _, imp := range []struct{ pkg, use string }{{"encoding/json", "json."}, {"fmt", "fmt."}, {"maps", "maps."}, {"slices", "slices."}, {"time", "time."}} {
		if regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(imp.use)).MatchString(body) {
			fmt.Fprintf(&h, "\t%q\n", imp.pkg)
		}
	}
	for _, imp := range []struct{ pkg, use string }{{"github.com/ocppd/ocppd/internal/ocppjson", "ocppjson."}, {"github.com/ocppd/ocppd/ocpp", "ocpp."}} {
		if regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(imp.use)).MatchString(body) {
			fmt.Fprintf(&h, "\n\t%q", imp.pkg)
		}
	}
	h.WriteString("\n)\n\n")
	h.WriteString(body)
	src, err := pruneImports(h.Bytes())
	if err != nil {
		broken := filepath.Join(os.TempDir(), "ocppgen_broken.go")
		_ = os.WriteFile(broken, h.Bytes(), 0o644)
		return nil, fmt.Errorf("format generated code (see %s): %w", broken, err)
	}
	return src, nil
}

// pruneImports drops the imports src does not use (the candidates are
// chosen by a textual match, which a comment can fool) and formats it.
func pruneImports(src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "gen.go", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.IMPORT {
			continue
		}
		specs := g.Specs[:0]
		for _, sp := range g.Specs {
			path := strings.Trim(sp.(*ast.ImportSpec).Path.Value, `"`)
			if used[path[strings.LastIndex(path, "/")+1:]] {
				specs = append(specs, sp)
			}
		}
		g.Specs = specs
	}
	var out bytes.Buffer
	if err := format.Node(&out, fset, f); err != nil {
		return nil, err
	}
	return format.Source(out.Bytes())
}

func comment(b *bytes.Buffer, indent, text string) {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			fmt.Fprintf(b, "%s//\n", indent)
			continue
		}
		fmt.Fprintf(b, "%s// %s\n", indent, line)
	}
}

func emitEnum(b *bytes.Buffer, t *goType) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("// %s is an OCPP enumeration.\n", t.name)
	if t.doc != "" {
		w("//\n")
		comment(b, "", t.doc)
	}
	w("type %s string\n\n", t.name)
	w("// The values of %s.\nconst (\n", t.name)
	seen := map[string]bool{}
	for _, v := range t.enum {
		c := t.name + constName(v)
		if seen[c] {
			c += "_"
		}
		seen[c] = true
		w("\t%s %s = %q\n", c, t.name, v)
	}
	w(")\n\n")
	w("// Valid reports whether e is one of the values of %s.\n", t.name)
	w("func (e %s) Valid() bool {\n\t_, ok := parse%s([]byte(e))\n\treturn ok\n}\n\n", t.name, t.name)
	w("func parse%s(b []byte) (%s, bool) {\n\tswitch string(b) {\n", t.name, t.name)
	seen = map[string]bool{}
	for _, v := range t.enum {
		c := t.name + constName(v)
		if seen[c] {
			c += "_"
		}
		seen[c] = true
		w("\tcase %q:\n\t\treturn %s, true\n", v, c)
	}
	w("\t}\n\treturn \"\", false\n}\n\n")
}

// goTypeOf returns the Go type of a field.
func goTypeOf(f *field) string {
	base := elemType(f.shape)
	switch f.shape.kind {
	case kInt, kNumber, kBool, kStruct:
		if !f.required {
			return "*" + base
		}
	}
	return base
}

func elemType(s *shape) string {
	switch s.kind {
	case kString, kURI:
		return "string"
	case kInt:
		return "int"
	case kNumber:
		return "float64"
	case kBool:
		return "bool"
	case kTime:
		return "time.Time"
	case kEnum, kStruct:
		return s.typ.name
	case kArray:
		return "[]" + elemType(s.elem)
	case kRaw:
		return "json.RawMessage"
	}
	panic("unknown kind")
}

func tag(f *field) string {
	opt := ""
	if !f.required {
		switch f.shape.kind {
		case kTime:
			opt = ",omitzero"
		default:
			opt = ",omitempty"
		}
	}
	return fmt.Sprintf("`json:\"%s%s\"`", f.json, opt)
}

func emitStruct(b *bytes.Buffer, t *goType) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	if t.message != "" {
		w("// %s\n", t.doc)
	} else {
		w("// %s is an OCPP data type.\n", t.name)
		if t.doc != "" {
			w("//\n")
			comment(b, "", t.doc)
		}
	}
	w("type %s struct {\n", t.name)
	for _, f := range t.fields {
		comment(b, "\t", f.doc)
		w("\t%s %s %s\n", f.goName, goTypeOf(f), tag(f))
	}
	if t.open {
		w("\t// Extra holds the properties the schema does not name, which this\n\t// type allows (vendor extensions), as raw JSON.\n")
		w("\tExtra map[string]json.RawMessage `json:\"-\"`\n")
	}
	w("}\n\n")
	emitDecode(b, t)
	emitValidate(b, t)
	emitEncode(b, t)
}

// ---- decoding ----

func emitDecode(b *bytes.Buffer, t *goType) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("func (m *%s) decode(d *ocppjson.Decoder) error {\n", t.name)
	w("\tif err := d.Object(\"\"); err != nil {\n\t\treturn err\n\t}\n")
	var reqMask uint64
	for i, f := range t.fields {
		if f.required {
			reqMask |= 1 << i
		}
	}
	if reqMask != 0 {
		w("\tvar seen uint64\n")
	}
	w("\tfor i := 0; d.NextKey(i); i++ {\n\t\tswitch string(d.Key()) {\n")
	for i, f := range t.fields {
		w("\t\tcase %q:\n", f.json)
		if f.required {
			w("\t\t\tseen |= %d\n", uint64(1)<<i)
		}
		decodeField(b, f, "m."+f.goName)
	}
	w("\t\tdefault:\n")
	if t.open {
		w("\t\t\tk := string(d.Key())\n\t\t\tv, err := d.Raw(k)\n\t\t\tif err != nil {\n\t\t\t\treturn err\n\t\t\t}\n")
		w("\t\t\tif m.Extra == nil {\n\t\t\t\tm.Extra = map[string]json.RawMessage{}\n\t\t\t}\n\t\t\tm.Extra[k] = v\n")
	} else {
		w("\t\t\tif err := d.Unknown(); err != nil {\n\t\t\t\treturn err\n\t\t\t}\n")
	}
	w("\t\t}\n\t}\n\tif d.Err != nil {\n\t\treturn d.Err\n\t}\n")
	for i, f := range t.fields {
		if f.required {
			w("\tif seen&%d == 0 {\n\t\treturn d.Missing(%q)\n\t}\n", uint64(1)<<i, f.json)
		}
	}
	w("\treturn nil\n}\n\n")
}

func fmtNum(f float64) string {
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%g", f)
}

// decodeValue writes code reading one value of shape s at field (a JSON
// property name, or "" for an array element) into the variable v
// (declared by the caller for scalars).
func decodeScalar(b *bytes.Buffer, s *shape, fieldName string, ind string) {
	w := func(format string, args ...any) { fmt.Fprintf(b, ind+format, args...) }
	fail := func(cond, msg string, kindName string) {
		w("if %s {\n", cond)
		w("\treturn d.Fail(ocpp.%s, %q, %q)\n", kindName, fieldName, msg)
		w("}\n")
	}
	switch s.kind {
	case kString:
		w("v, err := d.String(%q, %d)\n", fieldName, s.maxLen)
	case kURI:
		w("v, err := d.URI(%q, %d)\n", fieldName, s.maxLen)
	case kInt:
		w("v, err := d.Int(%q)\n", fieldName)
	case kNumber:
		w("v, err := d.Number(%q)\n", fieldName)
	case kBool:
		w("v, err := d.Bool(%q)\n", fieldName)
	case kTime:
		w("v, err := d.Time(%q)\n", fieldName)
	case kRaw:
		w("v, err := d.Raw(%q)\n", fieldName)
	case kEnum:
		w("v, err := ocppjson.Enum(d, %q, parse%s)\n", fieldName, s.typ.name)
	}
	w("if err != nil {\n%s\treturn err\n%s}\n", ind, ind)
	if s.kind == kInt || s.kind == kNumber {
		if s.min != nil {
			fail(fmt.Sprintf("v < %s", fmtNum(*s.min)), "must be at least "+fmtNum(*s.min), "ErrPropertyConstraint")
		}
		if s.max != nil {
			fail(fmt.Sprintf("v > %s", fmtNum(*s.max)), "must be at most "+fmtNum(*s.max), "ErrPropertyConstraint")
		}
		if s.multipleOf != nil {
			fail(fmt.Sprintf("!ocppjson.MultipleOf(v, %s)", fmtNum(*s.multipleOf)), "must be a multiple of "+fmtNum(*s.multipleOf), "ErrPropertyConstraint")
		}
	}
}

func decodeField(b *bytes.Buffer, f *field, dst string) {
	const ind = "\t\t\t"
	w := func(format string, args ...any) { fmt.Fprintf(b, ind+format, args...) }
	s := f.shape
	switch s.kind {
	case kStruct:
		if f.required {
			w("d.Push(%q)\n", f.json)
			w("if err := %s.decode(d); err != nil {\n%s\treturn err\n%s}\n", dst, ind, ind)
		} else {
			w("%s = new(%s)\n", dst, s.typ.name)
			w("d.Push(%q)\n", f.json)
			w("if err := %s.decode(d); err != nil {\n%s\treturn err\n%s}\n", dst, ind, ind)
		}
		w("d.Pop()\n")
	case kArray:
		w("if err := d.Array(%q); err != nil {\n%s\treturn err\n%s}\n", f.json, ind, ind)
		w("%s = %s[:0]\n", dst, dst)
		w("d.Push(%q)\n", f.json)
		w("for j := 0; d.NextElem(j); j++ {\n")
		if s.maxItems > 0 {
			w("\tif j == %d {\n%s\t\td.Pop()\n%s\t\treturn d.Fail(ocpp.ErrOccurrenceConstraint, %q, %q)\n%s\t}\n", s.maxItems, ind, ind, f.json, fmt.Sprintf("more than %d items", s.maxItems), ind)
		}
		w("\td.SetIndex(j)\n")
		if s.elem.kind == kStruct {
			w("\t%s = append(%s, %s{})\n", dst, dst, s.elem.typ.name)
			w("\tif err := %s[len(%s)-1].decode(d); err != nil {\n%s\t\treturn err\n%s\t}\n", dst, dst, ind, ind)
		} else {
			decodeScalar(b, s.elem, "", ind+"\t")
			w("\t%s = append(%s, v)\n", dst, dst)
		}
		w("}\n")
		w("if d.Err != nil {\n%s\treturn d.Err\n%s}\n", ind, ind)
		w("d.Pop()\n")
		if s.minItems > 0 {
			w("if len(%s) < %d {\n%s\treturn d.Fail(ocpp.ErrOccurrenceConstraint, %q, %q)\n%s}\n", dst, s.minItems, ind, f.json, fmt.Sprintf("fewer than %d items", s.minItems), ind)
		}
	default:
		w("{\n")
		decodeScalar(b, s, f.json, ind+"\t")
		switch {
		case !f.required && (s.kind == kInt || s.kind == kNumber || s.kind == kBool):
			w("\t%s = &v\n", dst)
		default:
			w("\t%s = v\n", dst)
		}
		w("}\n")
	}
}

// ---- outbound validation ----

func emitValidate(b *bytes.Buffer, t *goType) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("func (m *%s) validate() error {\n", t.name)
	for _, f := range t.fields {
		validateField(b, f)
	}
	if t.open {
		w("\tfor k, v := range m.Extra {\n")
		names := []string{}
		for _, f := range t.fields {
			names = append(names, fmt.Sprintf("%q", f.json))
		}
		if len(names) > 0 {
			w("\t\tswitch k {\n\t\tcase %s:\n\t\t\treturn ocppjson.Errf(ocpp.ErrFormat, k, \"extension property repeats a defined one\")\n\t\t}\n", strings.Join(names, ", "))
		}
		w("\t\tif err := ocppjson.CheckRaw(k, v, true); err != nil {\n\t\t\treturn err\n\t\t}\n\t}\n")
	}
	w("\treturn nil\n}\n\n")
}

// checkScalar writes checks of the scalar expression x (of shape s) named
// field; wrap turns an error expression into the returned one.
func checkScalar(b *bytes.Buffer, s *shape, x, name, ind string, wrap func(string) string) {
	w := func(format string, args ...any) { fmt.Fprintf(b, ind+format, args...) }
	switch s.kind {
	case kString:
		if s.maxLen > 0 {
			w("if err := ocppjson.CheckString(%q, %s, %d); err != nil {\n%s\treturn %s\n%s}\n", name, x, s.maxLen, ind, wrap("err"), ind)
		}
	case kURI:
		w("if err := ocppjson.CheckString(%q, %s, %d); err != nil {\n%s\treturn %s\n%s}\n", name, x, s.maxLen, ind, wrap("err"), ind)
		w("if msg := ocppjson.CheckURI(%s); msg != \"\" {\n%s\treturn %s\n%s}\n", x, ind, wrap(fmt.Sprintf("ocppjson.Errf(ocpp.ErrPropertyConstraint, %q, msg)", name)), ind)
	case kEnum:
		w("if !%s.Valid() {\n%s\treturn %s\n%s}\n", x, ind, wrap(fmt.Sprintf("ocppjson.BadEnum(%q, string(%s))", name, x)), ind)
	case kTime:
		w("if err := ocppjson.CheckTime(%q, %s); err != nil {\n%s\treturn %s\n%s}\n", name, x, ind, wrap("err"), ind)
	case kInt, kNumber:
		if s.kind == kNumber {
			w("if err := ocppjson.CheckNumber(%q, %s); err != nil {\n%s\treturn %s\n%s}\n", name, x, ind, wrap("err"), ind)
		}
		if s.min != nil {
			w("if %s < %s {\n%s\treturn %s\n%s}\n", x, fmtNum(*s.min), ind, wrap(fmt.Sprintf("ocppjson.Below(%q, %s)", name, fmtNum(*s.min))), ind)
		}
		if s.max != nil {
			w("if %s > %s {\n%s\treturn %s\n%s}\n", x, fmtNum(*s.max), ind, wrap(fmt.Sprintf("ocppjson.Above(%q, %s)", name, fmtNum(*s.max))), ind)
		}
		if s.multipleOf != nil {
			w("if !ocppjson.MultipleOf(%s, %s) {\n%s\treturn %s\n%s}\n", x, fmtNum(*s.multipleOf), ind, wrap(fmt.Sprintf("ocppjson.Errf(ocpp.ErrPropertyConstraint, %q, %q)", name, "must be a multiple of "+fmtNum(*s.multipleOf))), ind)
		}
	}
}

func validateField(b *bytes.Buffer, f *field) {
	const ind = "\t"
	w := func(format string, args ...any) { fmt.Fprintf(b, ind+format, args...) }
	s := f.shape
	x := "m." + f.goName
	id := func(e string) string { return e }
	switch s.kind {
	case kStruct:
		if f.required {
			w("if err := %s.validate(); err != nil {\n\t\treturn ocppjson.In(err, %q)\n\t}\n", x, f.json)
		} else {
			w("if %s != nil {\n\t\tif err := %s.validate(); err != nil {\n\t\t\treturn ocppjson.In(err, %q)\n\t\t}\n\t}\n", x, x, f.json)
		}
	case kArray:
		min := s.minItems
		if f.required || min > 0 || s.maxItems > 0 {
			cond := []string{}
			if min > 0 {
				c := fmt.Sprintf("len(%s) < %d", x, min)
				if !f.required {
					// An absent optional array is encoded as absent, so only
					// a too short non-empty one breaks the schema.
					c = fmt.Sprintf("(len(%s) > 0 && len(%s) < %d)", x, x, min)
				}
				if f.required || min > 1 {
					cond = append(cond, c)
				}
			}
			if s.maxItems > 0 {
				cond = append(cond, fmt.Sprintf("len(%s) > %d", x, s.maxItems))
			}
			if len(cond) > 0 {
				w("if %s {\n\t\treturn ocppjson.Items(%q, len(%s), %d, %d)\n\t}\n", strings.Join(cond, " || "), f.json, x, min, s.maxItems)
			}
		}
		wrap := func(e string) string { return fmt.Sprintf("ocppjson.InIndex(%s, %q, i)", e, f.json) }
		var inner bytes.Buffer
		if s.elem.kind == kStruct {
			fmt.Fprintf(&inner, "\t\tif err := %s[i].validate(); err != nil {\n\t\t\treturn %s\n\t\t}\n", x, wrap("err"))
		} else {
			checkScalar(&inner, s.elem, x+"[i]", "", ind+"\t", wrap)
		}
		if inner.Len() > 0 {
			w("for i := range %s {\n", x)
			b.Write(inner.Bytes())
			w("}\n")
		}
	case kRaw:
		w("if err := ocppjson.CheckRaw(%q, %s, %v); err != nil {\n\t\treturn err\n\t}\n", f.json, x, f.required)
	case kTime:
		if f.required {
			w("if %s.IsZero() {\n\t\treturn ocppjson.Missing(%q)\n\t}\n", x, f.json)
			checkScalar(b, s, x, f.json, ind, id)
		} else {
			w("if !%s.IsZero() {\n", x)
			checkScalar(b, s, x, f.json, ind+"\t", id)
			w("}\n")
		}
	case kEnum, kString, kURI:
		if f.required || s.kind == kString {
			checkScalar(b, s, x, f.json, ind, id)
		} else {
			w("if %s != \"\" {\n", x)
			checkScalar(b, s, x, f.json, ind+"\t", id)
			w("}\n")
		}
	case kInt, kNumber:
		if f.required {
			checkScalar(b, s, x, f.json, ind, id)
		} else {
			var tmp bytes.Buffer
			checkScalar(&tmp, s, "*"+x, f.json, ind+"\t", id)
			if tmp.Len() > 0 {
				w("if %s != nil {\n", x)
				b.Write(tmp.Bytes())
				w("}\n")
			}
		}
	}
}

// ---- encoding ----

func emitEncode(b *bytes.Buffer, t *goType) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("func (m *%s) appendJSON(b []byte) []byte {\n\tb = append(b, '{')\n", t.name)
	if len(t.fields) > 0 || t.open {
		w("\ts := len(b)\n")
	}
	for _, f := range t.fields {
		x := "m." + f.goName
		key := fmt.Sprintf("b = ocppjson.AppendKey(b, len(b) == s, %q)\n", f.json)
		s := f.shape
		if f.required {
			w("\t%s", key)
			w("\t%s\n", appendValue(s, x))
			continue
		}
		var cond, val string
		switch s.kind {
		case kString, kURI, kEnum:
			cond, val = x+" != \"\"", x
		case kTime:
			cond, val = "!"+x+".IsZero()", x
		case kArray, kRaw:
			cond, val = "len("+x+") > 0", x
		case kStruct:
			cond, val = x+" != nil", x
		default:
			cond, val = x+" != nil", "*"+x
		}
		w("\tif %s {\n\t\t%s\t\t%s\n\t}\n", cond, key, appendValue(s, val))
	}
	if t.open {
		w("\tfor _, k := range slices.Sorted(maps.Keys(m.Extra)) {\n\t\tb = ocppjson.AppendAnyKey(b, len(b) == s, k)\n\t\tb = append(b, m.Extra[k]...)\n\t}\n")
	}
	w("\treturn append(b, '}')\n}\n\n")
	w("// MarshalJSON encodes m as its OCPP JSON payload; date-times in UTC.\n")
	w("func (m %s) MarshalJSON() ([]byte, error) {\n\treturn m.appendJSON(nil), nil\n}\n\n", t.name)
	w("// UnmarshalJSON decodes an OCPP JSON payload into m, strictly validating it.\n")
	w("func (m *%s) UnmarshalJSON(data []byte) error {\n\t*m = %s{}\n\treturn run(m, data, ocpp.DecodeOptions{})\n}\n\n", t.name, t.name)
}

func appendValue(s *shape, x string) string {
	switch s.kind {
	case kString, kURI:
		return fmt.Sprintf("b = ocppjson.AppendString(b, %s)", x)
	case kEnum:
		return fmt.Sprintf("b = ocppjson.AppendString(b, string(%s))", x)
	case kInt:
		return fmt.Sprintf("b = ocppjson.AppendInt(b, %s)", x)
	case kNumber:
		return fmt.Sprintf("b = ocppjson.AppendFloat(b, %s)", x)
	case kBool:
		return fmt.Sprintf("b = ocppjson.AppendBool(b, %s)", x)
	case kTime:
		return fmt.Sprintf("b = ocppjson.AppendTime(b, %s)", x)
	case kStruct:
		return fmt.Sprintf("b = %s.appendJSON(b)", x)
	case kRaw:
		return fmt.Sprintf("if len(%s) == 0 {\n\t\tb = append(b, \"null\"...)\n\t} else {\n\t\tb = append(b, %s...)\n\t}", x, x)
	case kArray:
		inner := appendValue(s.elem, "e")
		if s.elem.kind == kStruct {
			inner = "b = e.appendJSON(b)"
			return fmt.Sprintf("b = append(b, '[')\n\tfor i := range %s {\n\t\tif i > 0 {\n\t\t\tb = append(b, ',')\n\t\t}\n\t\te := &%s[i]\n\t\t%s\n\t}\n\tb = append(b, ']')", x, x, inner)
		}
		return fmt.Sprintf("b = append(b, '[')\n\tfor i, e := range %s {\n\t\tif i > 0 {\n\t\t\tb = append(b, ',')\n\t\t}\n\t\t%s\n\t}\n\tb = append(b, ']')", x, inner)
	}
	panic("unknown kind")
}
