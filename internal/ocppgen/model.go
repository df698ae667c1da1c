package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// schema is the subset of JSON Schema draft-07 the OCPP schemas use.
type schema struct {
	ID                   string             `json:"$id"`
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Description          string             `json:"description"`
	Enum                 []string           `json:"enum"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties *bool              `json:"additionalProperties"`
	Items                *schema            `json:"items"`
	MinItems             *int               `json:"minItems"`
	MaxItems             *int               `json:"maxItems"`
	MaxLength            int                `json:"maxLength"`
	Minimum              *float64           `json:"minimum"`
	Maximum              *float64           `json:"maximum"`
	MultipleOf           *float64           `json:"multipleOf"`
	Definitions          map[string]*schema `json:"definitions"`

	raw json.RawMessage
}

// keys of a schema object the generator understands; anything else fails
// the generation so that a new schema keyword is never silently ignored.
var knownKeys = map[string]bool{
	"$id": true, "$ref": true, "$schema": true, "type": true, "format": true, "description": true,
	"enum": true, "properties": true, "required": true, "additionalProperties": true, "items": true,
	"minItems": true, "maxItems": true, "maxLength": true, "minimum": true, "maximum": true,
	"multipleOf": true, "definitions": true,
	// annotations without validation effect
	"javaType": true, "comment": true, "default": true,
	// additionalItems only applies when items is an array, never here
	"additionalItems": true,
}

func checkKeys(raw json.RawMessage, where string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	for k, v := range m {
		if !knownKeys[k] {
			return fmt.Errorf("%s: unsupported schema keyword %q", where, k)
		}
		switch k {
		case "properties", "definitions":
			var sub map[string]json.RawMessage
			if err := json.Unmarshal(v, &sub); err != nil {
				return fmt.Errorf("%s.%s: %w", where, k, err)
			}
			for name, s := range sub {
				if err := checkKeys(s, where+"."+name); err != nil {
					return err
				}
			}
		case "items":
			if err := checkKeys(v, where+".items"); err != nil {
				return err
			}
		case "additionalItems":
			if string(v) != "false" && string(v) != "true" {
				return fmt.Errorf("%s: unsupported additionalItems", where)
			}
		case "format":
			var f string
			_ = json.Unmarshal(v, &f)
			if f != "date-time" && f != "uri" {
				return fmt.Errorf("%s: unsupported format %q", where, f)
			}
		}
	}
	return nil
}

// kind is the Go shape of a value.
type kind int

const (
	kString kind = iota
	kURI
	kInt
	kNumber
	kBool
	kTime
	kEnum
	kStruct
	kArray
	kRaw
)

// shape describes a value: its kind and constraints.
type shape struct {
	kind       kind
	typ        *goType // enum or struct
	elem       *shape  // array
	maxLen     int
	min, max   *float64
	multipleOf *float64
	minItems   int
	maxItems   int // 0: unbounded
}

// field is a property of a struct.
type field struct {
	json     string
	goName   string
	required bool
	doc      string
	shape    *shape
}

// goType is a generated named type: a struct or a string enum.
type goType struct {
	name    string
	doc     string
	enum    []string // enum values
	fields  []*field // struct fields
	open    bool     // struct accepts additional properties (CustomDataType)
	isEnum  bool
	canon   string // canonical schema, to merge identical definitions
	message string // "Request"/"Response" for message types
}

// message is one action of a version.
type message struct {
	action   string
	req      *goType
	resp     *goType // nil for a SEND-only message
	sendOnly bool
}

type model struct {
	version  string
	types    map[string]*goType
	order    []*goType
	messages map[string]*message
	naming   func(action, parent, prop string, enum bool) string
}

func canonical(raw json.RawMessage) string {
	var v any
	_ = json.Unmarshal(raw, &v)
	var strip func(any) any
	strip = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, v := range t {
				switch k {
				case "description", "javaType", "comment", "default", "$id", "$schema", "definitions":
					continue
				}
				out[k] = strip(v)
			}
			return out
		case []any:
			out := make([]any, len(t))
			for i, v := range t {
				out[i] = strip(v)
			}
			return out
		}
		return x
	}
	b, _ := json.Marshal(strip(v))
	return string(b)
}

// build reads the schema list of one version into a model.
func build(version string, list []json.RawMessage, naming func(action, parent, prop string, enum bool) string) (*model, error) {
	m := &model{version: version, types: map[string]*goType{}, messages: map[string]*message{}, naming: naming}
	for _, raw := range list {
		var s schema
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		if err := checkKeys(raw, s.ID); err != nil {
			return nil, err
		}
		id := strings.TrimPrefix(s.ID, "urn:")
		var action, suffix string
		switch {
		case strings.HasSuffix(id, ".req"):
			action, suffix = strings.TrimSuffix(id, ".req"), "Request"
		case strings.HasSuffix(id, ".conf"):
			action, suffix = strings.TrimSuffix(id, ".conf"), "Response"
		case strings.HasSuffix(id, "Request"):
			action, suffix = strings.TrimSuffix(id, "Request"), "Request"
		case strings.HasSuffix(id, "Response"):
			action, suffix = strings.TrimSuffix(id, "Response"), "Response"
		default:
			// OCPP 2.1 SEND messages (NotifyPeriodicEventStream) have a
			// bare name and no response.
			action, suffix = id, "Request"
		}
		defs := map[string]json.RawMessage{}
		var rawDefs struct {
			Definitions map[string]json.RawMessage `json:"definitions"`
		}
		_ = json.Unmarshal(raw, &rawDefs)
		for k, v := range rawDefs.Definitions {
			defs[k] = v
		}
		ctx := &buildCtx{m: m, action: action, defs: s.Definitions, rawDefs: defs}
		t, err := ctx.object(action+suffix, &s, raw, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.ID, err)
		}
		t.message = suffix
		t.doc = fmt.Sprintf("%s is the payload of the OCPP %s %s %s.", t.name, version, action, strings.ToLower(suffix))
		if id == action {
			t.doc = fmt.Sprintf("%s is the payload of the OCPP %s %s message, sent with SEND and never answered.", t.name, version, action)
		}
		msg := m.messages[action]
		if msg == nil {
			msg = &message{action: action}
			m.messages[action] = msg
		}
		if suffix == "Request" {
			msg.req = t
			msg.sendOnly = id == action
		} else {
			msg.resp = t
		}
	}
	for a, msg := range m.messages {
		if msg.req == nil || (msg.resp == nil && !msg.sendOnly) {
			return nil, fmt.Errorf("action %s lacks a request or a response", a)
		}
	}
	return m, nil
}

type buildCtx struct {
	m       *model
	action  string
	defs    map[string]*schema
	rawDefs map[string]json.RawMessage
}

// register adds t, or returns the identical type already registered under
// its name.
func (c *buildCtx) register(t *goType) (*goType, error) {
	if old, ok := c.m.types[t.name]; ok {
		if old.canon != t.canon {
			return nil, fmt.Errorf("type %s is defined twice with different content", t.name)
		}
		return old, nil
	}
	c.m.types[t.name] = t
	c.m.order = append(c.m.order, t)
	return t, nil
}

func (c *buildCtx) object(name string, s *schema, raw json.RawMessage, top bool) (*goType, error) {
	t := &goType{name: name, doc: s.Description, canon: canonical(raw)}
	if old, ok := c.m.types[name]; ok && old.canon == t.canon {
		return old, nil
	}
	t.open = s.AdditionalProperties == nil || *s.AdditionalProperties
	req := map[string]bool{}
	for _, r := range s.Required {
		req[r] = true
		if _, ok := s.Properties[r]; !ok {
			return nil, fmt.Errorf("%s: required property %q is not defined", name, r)
		}
	}
	var rawProps struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(raw, &rawProps)
	names := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		names = append(names, k)
	}
	// Keep the schema's property order: it is the order of the spec.
	order := propOrder(raw)
	sort.SliceStable(names, func(i, j int) bool { return order[names[i]] < order[names[j]] })
	if len(names) > 64 {
		return nil, fmt.Errorf("%s: more than 64 properties", name)
	}
	for _, p := range names {
		ps := s.Properties[p]
		sh, err := c.shape(name, p, ps, rawProps.Properties[p])
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", name, p, err)
		}
		doc := ps.Description
		if ps.Ref != "" && doc == "" {
			// 2.x puts the field's description on the referenced type.
			doc = ""
		}
		t.fields = append(t.fields, &field{json: p, goName: goName(p), required: req[p], doc: doc, shape: sh})
	}
	if t.open {
		for _, f := range t.fields {
			if f.goName == "Extra" {
				return nil, fmt.Errorf("%s: property Extra collides with the extension map", name)
			}
		}
	}
	return c.register(t)
}

func propOrder(raw json.RawMessage) map[string]int {
	// Decode the properties object token by token to keep its order.
	var top map[string]json.RawMessage
	_ = json.Unmarshal(raw, &top)
	order := map[string]int{}
	dec := json.NewDecoder(strings.NewReader(string(top["properties"])))
	if _, err := dec.Token(); err != nil {
		return order
	}
	for i := 0; dec.More(); i++ {
		tok, err := dec.Token()
		if err != nil {
			return order
		}
		order[tok.(string)] = i
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return order
		}
	}
	return order
}

func (c *buildCtx) shape(parent, prop string, s *schema, raw json.RawMessage) (*shape, error) {
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/definitions/")
		def, ok := c.defs[name]
		if !ok {
			return nil, fmt.Errorf("unresolved $ref %s", s.Ref)
		}
		return c.named(name, def, c.rawDefs[name])
	}
	switch s.Type {
	case "":
		return &shape{kind: kRaw}, nil
	case "string":
		if len(s.Enum) > 0 {
			t, err := c.enum(c.m.naming(c.action, parent, prop, true), s, raw)
			if err != nil {
				return nil, err
			}
			return &shape{kind: kEnum, typ: t}, nil
		}
		sh := &shape{kind: kString, maxLen: s.MaxLength}
		switch s.Format {
		case "date-time":
			sh.kind = kTime
		case "uri":
			sh.kind = kURI
		}
		return sh, nil
	case "integer":
		return &shape{kind: kInt, min: s.Minimum, max: s.Maximum}, nil
	case "number":
		return &shape{kind: kNumber, min: s.Minimum, max: s.Maximum, multipleOf: s.MultipleOf}, nil
	case "boolean":
		return &shape{kind: kBool}, nil
	case "object":
		t, err := c.object(c.m.naming(c.action, parent, prop, false), s, raw, false)
		if err != nil {
			return nil, err
		}
		return &shape{kind: kStruct, typ: t}, nil
	case "array":
		if s.Items == nil {
			return nil, fmt.Errorf("array without items")
		}
		var rawItems struct {
			Items json.RawMessage `json:"items"`
		}
		_ = json.Unmarshal(raw, &rawItems)
		elem, err := c.shape(parent, prop, s.Items, rawItems.Items)
		if err != nil {
			return nil, err
		}
		if elem.kind == kArray || elem.kind == kRaw {
			return nil, fmt.Errorf("unsupported array item")
		}
		sh := &shape{kind: kArray, elem: elem}
		if s.MinItems != nil {
			sh.minItems = *s.MinItems
		}
		if s.MaxItems != nil {
			sh.maxItems = *s.MaxItems
		}
		return sh, nil
	}
	return nil, fmt.Errorf("unsupported type %q", s.Type)
}

func (c *buildCtx) named(name string, s *schema, raw json.RawMessage) (*shape, error) {
	if s.Type == "string" && len(s.Enum) > 0 {
		t, err := c.enum(name, s, raw)
		if err != nil {
			return nil, err
		}
		return &shape{kind: kEnum, typ: t}, nil
	}
	if s.Type != "object" {
		return nil, fmt.Errorf("definition %s of type %s not supported", name, s.Type)
	}
	t, err := c.object(name, s, raw, false)
	if err != nil {
		return nil, err
	}
	return &shape{kind: kStruct, typ: t}, nil
}

func (c *buildCtx) enum(name string, s *schema, raw json.RawMessage) (*goType, error) {
	t := &goType{name: name, doc: s.Description, enum: s.Enum, isEnum: true, canon: canonical(raw)}
	return c.register(t)
}

// goName turns a JSON property name into an exported Go name, with the
// initialism ID spelled the Go way ("evseId" → "EvseID").
func goName(p string) string {
	r := []rune(p)
	r[0] = unicode.ToUpper(r[0])
	s := string(r)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "Id") && (i+2 == len(s) || unicode.IsUpper(rune(s[i+2])) || unicode.IsDigit(rune(s[i+2]))) {
			b.WriteString("ID")
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// constName turns an enum value into the suffix of its constant name.
func constName(v string) string {
	var b strings.Builder
	up := true
	for _, r := range v {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
