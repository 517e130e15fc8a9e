package config

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

func attrs(names ...string) []hcl.AttributeSchema {
	out := make([]hcl.AttributeSchema, len(names))
	for i, n := range names {
		out[i] = hcl.AttributeSchema{Name: n}
	}
	return out
}

// Block schemas. They are the single list of what a block may contain; the
// documentation test checks docs/configuration.md against them.
var (
	connectorSchema = &hcl.BodySchema{Attributes: attrs("state_dir", "state_database", "state_database_file", "log_level", "plugin_dir", "work_dir")}
	listenerSchema  = &hcl.BodySchema{
		Attributes: attrs("address"),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "tls"}},
	}
	listenerTLSSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "cert_file", Required: true}, {Name: "key_file", Required: true},
		{Name: "client_ca_file"}, {Name: "require_client_cert"}, {Name: "min_version"},
	}}
	identitySchema = &hcl.BodySchema{Attributes: append([]hcl.AttributeSchema{{Name: "ssid", Required: true}},
		attrs("sfid", "password", "password_file", "user_data", "keys")...)}
	partnerSchema = &hcl.BodySchema{
		Attributes: append([]hcl.AttributeSchema{{Name: "ssid", Required: true}}, attrs(
			"sfid", "password", "password_file", "our_password", "our_password_file",
			"address", "tls", "ca_file", "server_name", "server_fingerprint", "client_cert_file", "client_key_file",
			"proxy", "version", "enforce_version", "buffer_size", "credit", "buffer_compression", "restart",
			"connection_type", "timeout", "accept_any_sfid")...),
		Blocks: []hcl.BlockHeaderSchema{{Type: "security"}, {Type: "schedule"}},
	}
	securitySchema = &hcl.BodySchema{Attributes: attrs("level", "cipher_suite", "file_compression", "signed_receipts",
		"accept_unsigned_receipts", "certificate_file", "secure_authentication", "sha1_receipt_compat")}
	scheduleSchema = &hcl.BodySchema{Attributes: attrs("every", "at")}
	pluginSchema   = &hcl.BodySchema{
		Attributes: attrs("builtin", "path", "sha256"),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "config"}},
	}
	keysSchema = &hcl.BodySchema{
		Attributes: attrs("plugin", "key_id"),
		Blocks:     []hcl.BlockHeaderSchema{{Type: "local"}},
	}
	localKeysSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "cert_file", Required: true}, {Name: "key_file", Required: true},
		{Name: "key_password"}, {Name: "key_password_file"},
	}}
	inboundSchema = &hcl.BodySchema{Attributes: append([]hcl.AttributeSchema{{Name: "sink", Required: true}},
		attrs("partners", "files", "object_name")...)}
	outboundSchema = &hcl.BodySchema{
		Attributes: append([]hcl.AttributeSchema{{Name: "source", Required: true}, {Name: "partner", Required: true}},
			attrs("poll", "sign", "sign_with", "encrypt", "compress", "format", "max_record_size", "description")...),
		Blocks: []hcl.BlockHeaderSchema{{Type: "retry"}},
	}
	retrySchema = &hcl.BodySchema{Attributes: attrs("max_attempts", "backoff", "max_backoff")}
)

// Defaults, documented in docs/configuration.md.
const (
	DefaultStateDir    = "./state"
	DefaultPluginDir   = "./plugins"
	DefaultBufferSize  = 65535
	DefaultCredit      = 64
	DefaultTimeout     = 60 * time.Second
	DefaultPoll        = 30 * time.Second
	DefaultMaxAttempts = 10
	DefaultBackoff     = time.Minute
	DefaultMaxBackoff  = time.Hour
	DefaultCipherSuite = CipherSuite(2) // AES-256 + SHA-1: mandatory in RFC 5024, so every partner has it
	PortPlain          = 3305
	PortTLS            = 6619
)

func (d *decoder) decodeConnector(body hcl.Body) Connector {
	b := d.open(body, connectorSchema)
	var c Connector
	c.StateDir, _ = b.path("state_dir")
	if c.StateDir == "" {
		c.StateDir = d.resolvePath(DefaultStateDir)
	}
	c.PluginDir, _ = b.path("plugin_dir")
	if c.PluginDir == "" {
		c.PluginDir = d.resolvePath(DefaultPluginDir)
	}
	c.WorkDir, _ = b.path("work_dir")
	var dbA *hcl.Attribute
	c.StateDatabase, dbA = b.secret("state_database", "state_database_file")
	if dbA != nil && c.StateDatabase != "" {
		// url.Parse errors echo the URL and its password: keep them out.
		u, err := url.Parse(c.StateDatabase.Reveal())
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			d.errorf(dbA.Expr.Range(), "Invalid value", "state_database must be a URL like postgres://user:password@host:5432/connector.")
		}
	}
	level, _ := b.oneOf("log_level", "info", []string{"debug", "info", "warn", "error"})
	_ = c.LogLevel.UnmarshalText([]byte(level))
	return c
}

func (d *decoder) decodeIdentity(hb *hcl.Block) Identity {
	b := d.open(hb.Body, identitySchema)
	var id Identity
	var a *hcl.Attribute
	id.SSID, a = b.str("ssid", "")
	if a != nil {
		d.code(a, "ssid", id.SSID)
	}
	id.SFID, a = b.str("sfid", id.SSID)
	if a != nil {
		d.code(a, "sfid", id.SFID)
	}
	id.Password, a = b.secret("password", "password_file")
	d.ourPasswordGiven = a != nil
	if a != nil {
		if err := checkSentPassword(id.Password.Reveal()); err != nil {
			d.errorf(a.Expr.Range(), "Invalid password", "%s.", err)
		}
	}
	id.UserData, a = b.str("user_data", "")
	if a != nil && id.UserData != "" {
		if len(id.UserData) > MaxUserDataLen {
			d.errorf(a.Expr.Range(), "Value out of range", "user_data is at most %d characters (SSIDUSER).", MaxUserDataLen)
		} else if err := checkStringChars(id.UserData); err != nil {
			d.errorf(a.Expr.Range(), "Invalid character", "user_data: %s.", err)
		}
	}
	id.Keys, _ = b.ref("keys", "keys")
	return id
}

func (d *decoder) code(a *hcl.Attribute, name, v string) {
	if err := checkCode(v); err != nil {
		d.errorf(a.Expr.Range(), "Invalid OFTP code", "%s: %s.", name, err)
	}
}

func (d *decoder) decodeListener(hb *hcl.Block) *Listener {
	b := d.open(hb.Body, listenerSchema)
	l := &Listener{Name: hb.Labels[0], DeclRange: hb.DefRange}
	tlsBlocks := b.blocks("tls")
	port := PortPlain
	if len(tlsBlocks) > 0 {
		port = PortTLS
		for _, extra := range tlsBlocks[1:] {
			d.errorf(extra.DefRange, "Duplicate tls block", "A listener has at most one tls block.")
		}
		tb := d.open(tlsBlocks[0].Body, listenerTLSSchema)
		t := &ServerTLS{}
		t.CertFile, _ = tb.file("cert_file", fileCert)
		var keyA *hcl.Attribute
		t.KeyFile, keyA = tb.file("key_file", fileKey)
		d.keyPair(t.CertFile, t.KeyFile, keyA)
		t.ClientCAFile, _ = tb.file("client_ca_file", fileCert)
		var a *hcl.Attribute
		t.RequireClientCert, a = tb.boolean("require_client_cert", false)
		if t.RequireClientCert && t.ClientCAFile == "" {
			d.errorf(a.Expr.Range(), "Missing client_ca_file", "require_client_cert needs client_ca_file to verify client certificates against.")
		}
		v, _ := tb.oneOf("min_version", "1.2", []string{"1.2", "1.3"})
		t.MinVersion = tls.VersionTLS12
		if v == "1.3" {
			t.MinVersion = tls.VersionTLS13
		}
		l.TLS = t
	}
	addr, a := b.str("address", "")
	if a == nil {
		addr = fmt.Sprintf("127.0.0.1:%d", port)
	} else {
		var err error
		if addr, err = checkAddress(addr, port, true); err != nil {
			d.errorf(a.Expr.Range(), "Invalid address", "%s.", err)
		}
	}
	l.Address = addr
	return l
}

var versionNames = map[string]Version{"2.0": Version20, "1.4": Version14, "1.3": Version13, "1.2": Version12}

func (d *decoder) decodePartner(hb *hcl.Block, id *Identity) *Partner {
	b := d.open(hb.Body, partnerSchema)
	p := &Partner{Name: hb.Labels[0], DeclRange: hb.DefRange}
	var a *hcl.Attribute

	p.SSID, a = b.str("ssid", "")
	if a != nil {
		d.code(a, "ssid", p.SSID)
	}
	p.SFID, a = b.str("sfid", p.SSID)
	if a != nil {
		d.code(a, "sfid", p.SFID)
	}
	p.Password, a = b.secret("password", "password_file")
	if a == nil {
		d.errorf(hb.DefRange, "Missing required argument", "Partner %q needs password (or password_file): the password the partner sends us.", p.Name)
	} else if err := checkReceivedPassword(p.Password.Reveal()); err != nil {
		d.errorf(a.Expr.Range(), "Invalid password", "%s.", err)
	}
	p.OurPassword, a = b.secret("our_password", "our_password_file")
	if a != nil {
		if err := checkSentPassword(p.OurPassword.Reveal()); err != nil {
			d.errorf(a.Expr.Range(), "Invalid password", "our_password: %s.", err)
		}
	} else {
		p.OurPassword = id.Password
		if !d.ourPasswordGiven {
			d.errorf(hb.DefRange, "Missing password", "Partner %q needs our_password (what we send it), or the identity block a password.", p.Name)
		}
	}

	vs, _ := b.oneOf("version", "2.0", []string{"2.0", "1.4", "1.3", "1.2"})
	p.Version = versionNames[vs]
	p.EnforceVersion, _ = b.boolean("enforce_version", false)

	p.TLS, _ = b.boolean("tls", p.Version == Version20)
	port := PortPlain
	if p.TLS {
		port = PortTLS
	}
	if addr, a := b.str("address", ""); a != nil {
		var err error
		if p.Address, err = checkAddress(addr, port, false); err != nil {
			d.errorf(a.Expr.Range(), "Invalid address", "%s.", err)
		}
	}
	p.CAFile, _ = b.file("ca_file", fileCert)
	p.ServerName, _ = b.str("server_name", "")
	if fp, a := b.str("server_fingerprint", ""); a != nil {
		var err error
		if p.ServerFingerprint, err = checkFingerprint(fp); err != nil {
			d.errorf(a.Expr.Range(), "Invalid fingerprint", "%s.", err)
		}
	}
	var certA, keyA *hcl.Attribute
	p.ClientCertFile, certA = b.file("client_cert_file", fileCert)
	p.ClientKeyFile, keyA = b.file("client_key_file", fileKey)
	d.keyPair(p.ClientCertFile, p.ClientKeyFile, keyA)
	if (certA == nil) != (keyA == nil) {
		rng := certA
		if rng == nil {
			rng = keyA
		}
		d.errorf(rng.NameRange, "Incomplete client certificate", "Set client_cert_file and client_key_file together.")
	}
	if !p.TLS {
		for _, n := range []string{"ca_file", "server_name", "server_fingerprint", "client_cert_file", "client_key_file"} {
			if a := b.attr(n); a != nil {
				d.errorf(a.NameRange, "TLS setting without TLS", "%s applies only when tls = true.", n)
			}
		}
	}
	if s, a := b.str("proxy", ""); a != nil {
		p.Proxy = d.proxy(a, s)
	}

	p.BufferSize, _ = b.integer("buffer_size", DefaultBufferSize, MinBufferSize, MaxBufferSize, " octets (SSIDSDEB)")
	p.Credit, _ = b.integer("credit", DefaultCredit, MinCredit, MaxCredit, " buffers (SSIDCRED)")
	p.BufferCompression, _ = b.boolean("buffer_compression", false)
	p.Restart, _ = b.boolean("restart", true)
	ct, _ := b.oneOf("connection_type", "both", []string{"both", "send", "receive"})
	p.ConnectionType = map[string]ConnectionType{"both": ConnectionBoth, "send": ConnectionSend, "receive": ConnectionReceive}[ct]
	p.Timeout, _ = b.duration("timeout", DefaultTimeout, time.Second, 24*time.Hour)
	p.AcceptAnySFID, _ = b.boolean("accept_any_sfid", false)

	secBlocks := b.blocks("security")
	for _, extra := range secBlocks[min(1, len(secBlocks)):] {
		d.errorf(extra.DefRange, "Duplicate security block", "A partner has at most one security block.")
	}
	if len(secBlocks) > 0 {
		p.Security = d.decodeSecurity(secBlocks[0], p, id)
	}
	schedBlocks := b.blocks("schedule")
	for _, extra := range schedBlocks[min(1, len(schedBlocks)):] {
		d.errorf(extra.DefRange, "Duplicate schedule block", "A partner has at most one schedule block.")
	}
	if len(schedBlocks) > 0 {
		p.Schedule = d.decodeSchedule(schedBlocks[0])
		if p.Address == "" {
			d.errorf(schedBlocks[0].DefRange, "Schedule without address", "Partner %q has a schedule but no address to call.", p.Name)
		}
	}
	return p
}

func (d *decoder) proxy(a *hcl.Attribute, s string) *Proxy {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		// url.Parse errors echo the input, which may hold a password.
		d.errorf(a.Expr.Range(), "Invalid proxy", "proxy must be a URL like socks5://host:1080 or http://user:password@host:3128.")
		return nil
	}
	defPort := 1080
	switch u.Scheme {
	case "socks5", "socks5h":
	case "http":
		defPort = 8080
	default:
		d.errorf(a.Expr.Range(), "Invalid proxy", "proxy scheme must be socks5, socks5h or http; got %q.", u.Scheme)
		return nil
	}
	addr, err := checkAddress(u.Host, defPort, false)
	if err != nil {
		d.errorf(a.Expr.Range(), "Invalid proxy", "%s.", err)
		return nil
	}
	p := &Proxy{Scheme: u.Scheme, Address: addr}
	if u.User != nil {
		p.Username = u.User.Username()
		pw, _ := u.User.Password()
		p.Password = Secret(pw)
	}
	return p
}

func (d *decoder) decodeSecurity(hb *hcl.Block, p *Partner, id *Identity) Security {
	b := d.open(hb.Body, securitySchema)
	var s Security
	lv, levelA := b.oneOf("level", "none", []string{"none", "encrypted", "signed", "both"})
	s.Level = map[string]SecurityLevel{"none": SecurityNone, "encrypted": SecurityEncrypted, "signed": SecuritySigned, "both": SecurityBoth}[lv]
	s.FileCompression, _ = b.boolean("file_compression", false)
	s.SignedReceipts, _ = b.boolean("signed_receipts", false)
	s.AcceptUnsignedReceipts, _ = b.boolean("accept_unsigned_receipts", false)
	s.SecureAuthentication, _ = b.boolean("secure_authentication", false)
	s.SHA1ReceiptCompat, _ = b.boolean("sha1_receipt_compat", false)
	var certA *hcl.Attribute
	s.CertificateFile, certA = b.file("certificate_file", fileCert)

	if a := b.attr("cipher_suite"); a != nil {
		if cs, ok := b.str("cipher_suite", ""); ok != nil && cs != "" {
			suite, err := parseCipherSuite(cs)
			if err != nil {
				d.errorf(a.Expr.Range(), "Invalid cipher suite", "%s.", err)
			}
			s.CipherSuite = suite
		}
	}
	needsSuite := s.Level != SecurityNone || s.SignedReceipts
	if s.CipherSuite == 0 && needsSuite {
		s.CipherSuite = DefaultCipherSuite
	}

	if p.Version != Version20 {
		for _, x := range []struct {
			n  string
			on bool
		}{
			{"level", s.Level != SecurityNone}, {"cipher_suite", s.CipherSuite != 0 && b.attr("cipher_suite") != nil},
			{"file_compression", s.FileCompression}, {"signed_receipts", s.SignedReceipts},
			{"secure_authentication", s.SecureAuthentication},
		} {
			if a := b.attr(x.n); a != nil && x.on {
				d.errorf(a.Expr.Range(), "Needs OFTP 2.0", "%s is an OFTP 2.0 service; partner %q uses version %s.", x.n, p.Name, p.Version)
			}
		}
	}
	needsCert := s.Level != SecurityNone || s.SignedReceipts || s.SecureAuthentication
	if needsCert && s.CertificateFile == "" && certA == nil {
		why := "signed receipts"
		switch {
		case s.Level != SecurityNone:
			why = "security level " + s.Level.String()
		case s.SecureAuthentication:
			why = "secure authentication"
		}
		rng := hb.DefRange
		if levelA != nil {
			rng = levelA.Expr.Range()
		}
		d.errorf(rng, "Missing certificate_file", "Partner %q uses %s, which needs the partner's certificate (certificate_file).", p.Name, why)
	}
	if s.SecureAuthentication && id.Keys == "" {
		a := b.attr("secure_authentication")
		d.errorf(a.Expr.Range(), "Missing identity keys", "Secure authentication decrypts the partner's challenge with our private key; set keys in the identity block.")
	}
	return s
}

func (d *decoder) decodeSchedule(hb *hcl.Block) *Schedule {
	b := d.open(hb.Body, scheduleSchema)
	s := &Schedule{}
	var everyA *hcl.Attribute
	s.Every, everyA = b.duration("every", 0, 10*time.Second, 7*24*time.Hour)
	at, atA := b.strList("at")
	seen := map[TimeOfDay]bool{}
	for _, t := range at {
		tod, err := parseTimeOfDay(t)
		if err != nil {
			d.errorf(atA.Expr.Range(), "Invalid time of day", "%s.", err)
			continue
		}
		if !seen[tod] {
			seen[tod] = true
			s.At = append(s.At, tod)
		}
	}
	if everyA == nil && atA == nil {
		d.errorf(hb.DefRange, "Empty schedule", "A schedule needs every (an interval such as \"15m\") or at (times of day such as [\"08:00\"]).")
	}
	return s
}

func (d *decoder) decodePlugin(hb *hcl.Block, pluginDir string) *Plugin {
	b := d.open(hb.Body, pluginSchema)
	p := &Plugin{Name: hb.Labels[0], DeclRange: hb.DefRange, Body: hcl.EmptyBody(), BodyRange: hb.DefRange}
	var builtinA, pathA, sumA *hcl.Attribute
	p.Builtin, builtinA = b.str("builtin", "")
	if builtinA != nil && !isIdentifier(p.Builtin) {
		d.errorf(builtinA.Expr.Range(), "Invalid value", "builtin names a plugin bundled with the connector, such as \"s3\" or \"localfs\".")
	}
	var rawPath string
	rawPath, pathA = b.str("path", "")
	if pathA != nil && rawPath != "" {
		p.Path = d.resolvePluginPath(rawPath, pluginDir)
	}
	var sum string
	sum, sumA = b.str("sha256", "")
	switch {
	case builtinA != nil && pathA != nil:
		d.errorf(pathA.NameRange, "Conflicting attributes", "Plugin %q sets both builtin and path; a plugin is either bundled (builtin) or an executable (path).", p.Name)
	case builtinA == nil && pathA == nil:
		d.errorf(hb.DefRange, "Missing plugin source", "Plugin %q needs builtin (a bundled plugin) or path (an executable pinned by sha256).", p.Name)
	case pathA != nil && sumA == nil:
		d.errorf(pathA.NameRange, "Missing sha256", "Plugin %q runs an executable, so sha256 must pin its checksum (sha256sum %s).", p.Name, rawPath)
	case builtinA != nil && sumA != nil:
		d.errorf(sumA.NameRange, "Unexpected sha256", "sha256 pins an executable given by path; bundled plugins are part of the connector binary.")
	}
	if sumA != nil && pathA != nil {
		var err error
		if p.SHA256, err = checkSHA256(sum); err != nil {
			d.errorf(sumA.Expr.Range(), "Invalid checksum", "%s.", err)
		} else if d.opts.CheckFiles && p.Path != "" {
			d.checkPluginExecutable(p.Path, p.SHA256, pathA, sumA)
		}
	}
	cfgBlocks := b.blocks("config")
	for _, extra := range cfgBlocks[min(1, len(cfgBlocks)):] {
		d.errorf(extra.DefRange, "Duplicate config block", "A plugin has at most one config block.")
	}
	if len(cfgBlocks) > 0 {
		p.Body = cfgBlocks[0].Body
		p.BodyRange = cfgBlocks[0].DefRange
	}
	return p
}

// resolvePluginPath resolves a plugin path: a bare name is an executable in
// the plugin directory, a path with a separator is relative to the
// configuration file.
func (d *decoder) resolvePluginPath(p, pluginDir string) string {
	if !strings.ContainsAny(p, `/\`) {
		return filepath.Join(pluginDir, p)
	}
	return d.resolvePath(p)
}

func (d *decoder) decodeKeys(hb *hcl.Block) *Keys {
	b := d.open(hb.Body, keysSchema)
	k := &Keys{Name: hb.Labels[0], DeclRange: hb.DefRange}
	var pluginA, idA *hcl.Attribute
	k.Plugin, pluginA = b.ref("plugin", "plugin")
	k.KeyID, idA = b.str("key_id", "")
	local := b.blocks("local")
	for _, extra := range local[min(1, len(local)):] {
		d.errorf(extra.DefRange, "Duplicate local block", "A keys block has at most one local block.")
	}
	switch {
	case pluginA != nil && len(local) > 0:
		d.errorf(local[0].DefRange, "Conflicting key sources", "Keys %q sets both plugin and a local block; use one.", k.Name)
	case pluginA == nil && len(local) == 0:
		d.errorf(hb.DefRange, "Missing key source", "Keys %q needs plugin (with key_id) or a local block (cert_file, key_file).", k.Name)
	case pluginA != nil && idA == nil:
		d.errorf(pluginA.NameRange, "Missing key_id", "Keys %q served by a plugin need key_id, the key's name in that plugin.", k.Name)
	case pluginA == nil && idA != nil:
		d.errorf(idA.NameRange, "Unexpected key_id", "key_id applies to keys served by a plugin.")
	}
	if idA != nil && k.KeyID == "" && b.isSet(idA) {
		d.errorf(idA.Expr.Range(), "Invalid value", "key_id must not be empty.")
	}
	if len(local) > 0 && pluginA == nil {
		lb := d.open(local[0].Body, localKeysSchema)
		l := &LocalKeys{}
		l.CertFile, _ = lb.file("cert_file", fileCert)
		var keyA *hcl.Attribute
		l.KeyFile, keyA = lb.file("key_file", fileKey)
		l.KeyPassword, _ = lb.secret("key_password", "key_password_file")
		d.keyPair(l.CertFile, l.KeyFile, keyA)
		k.Local = l
	}
	return k
}

func (d *decoder) decodeInbound(hb *hcl.Block) *Inbound {
	b := d.open(hb.Body, inboundSchema)
	in := &Inbound{Name: hb.Labels[0], DeclRange: hb.DefRange}
	in.Partners, _ = b.refList("partners", "partner")
	var filesA *hcl.Attribute
	in.Files, filesA = b.strList("files")
	if filesA == nil {
		in.Files = []string{"*"}
	} else if len(in.Files) == 0 && b.isSet(filesA) {
		d.errorf(filesA.Expr.Range(), "Invalid value", "files must list at least one pattern; leave it out to accept every file.")
	}
	for _, f := range in.Files {
		if _, err := path.Match(f, ""); err != nil || f == "" {
			d.errorf(filesA.Expr.Range(), "Invalid pattern", "%q is not a valid glob pattern (* ? [A-Z] and \\ for escaping).", f)
		} else if strings.ToUpper(f) != f {
			d.warnf(filesA.Expr.Range(), "Lower-case pattern", "Virtual file names are upper case in OFTP; %q only matches names from partners that break that rule.", f)
		}
	}
	in.Sink, _ = b.ref("sink", "plugin")
	tmpl, a := b.str("object_name", DefaultObjectName)
	t, err := ParseNameTemplate(tmpl)
	if err != nil {
		d.errorf(a.Expr.Range(), "Invalid object_name", "%s.", strings.TrimSuffix(err.Error(), "."))
		t, _ = ParseNameTemplate(DefaultObjectName)
	} else if tmpl == "" {
		d.errorf(a.Expr.Range(), "Invalid object_name", "object_name must not be empty.")
	}
	in.ObjectName = t
	return in
}

func (d *decoder) decodeOutbound(hb *hcl.Block, cfg *Config) *Outbound {
	b := d.open(hb.Body, outboundSchema)
	out := &Outbound{Name: hb.Labels[0], DeclRange: hb.DefRange}
	out.Source, _ = b.ref("source", "plugin")
	var partnerA *hcl.Attribute
	out.Partner, partnerA = b.ref("partner", "partner")
	out.Poll, _ = b.duration("poll", DefaultPoll, time.Second, 24*time.Hour)

	var p *Partner
	if out.Partner != "" {
		p = cfg.Partner(out.Partner)
	}
	var sec Security
	if p != nil {
		sec = p.Security
		if p.ConnectionType == ConnectionReceive && partnerA != nil {
			d.errorf(partnerA.Expr.Range(), "Partner only receives", "Partner %q has connection_type = \"receive\", so no file can be sent to it.", p.Name)
		}
	}
	var signA, encA, compA, withA *hcl.Attribute
	out.Sign, signA = b.boolean("sign", sec.Level.Signs())
	out.Encrypt, encA = b.boolean("encrypt", sec.Level.Encrypts())
	out.Compress, compA = b.boolean("compress", sec.FileCompression)
	out.SignWith, withA = b.ref("sign_with", "keys")
	if withA != nil && signA == nil {
		out.Sign = true
	}
	if out.Sign && out.SignWith == "" && withA == nil {
		out.SignWith = cfg.Identity.Keys
		if out.SignWith == "" {
			rng := hb.DefRange
			if signA != nil {
				rng = signA.Expr.Range()
			}
			d.errorf(rng, "No signing key", "Outbound %q signs files but names no key: set sign_with, or keys in the identity block.", out.Name)
		}
	}
	if p != nil && p.Version != Version20 {
		for _, x := range []struct {
			on bool
			a  *hcl.Attribute
			n  string
		}{{out.Sign, signA, "signing"}, {out.Encrypt, encA, "encryption"}, {out.Compress, compA, "file compression"}} {
			if x.on {
				rng := hb.DefRange
				if x.a != nil {
					rng = x.a.Expr.Range()
				}
				d.errorf(rng, "Needs OFTP 2.0", "File %s is an OFTP 2.0 service; partner %q uses version %s.", x.n, p.Name, p.Version)
			}
		}
	}
	if out.Encrypt && p != nil && p.Security.CertificateFile == "" {
		rng := hb.DefRange
		if encA != nil {
			rng = encA.Expr.Range()
		}
		d.errorf(rng, "No partner certificate", "Encrypting files for partner %q needs its certificate: set certificate_file in its security block.", p.Name)
	}

	fs, fmtA := b.oneOf("format", "U", []string{"U", "T", "F", "V"})
	out.Format = FileFormat(fs[0])
	var reclA *hcl.Attribute
	out.MaxRecordSize, reclA = b.integer("max_record_size", 0, 1, MaxRecordSize, " octets (SFIDLRECL)")
	switch out.Format {
	case FormatFixed, FormatVariable:
		if reclA == nil {
			rng := hb.DefRange
			if fmtA != nil {
				rng = fmtA.Expr.Range()
			}
			d.errorf(rng, "Missing max_record_size", "Format %s files need max_record_size (1 to %d).", out.Format, MaxRecordSize)
		}
		if out.Format == FormatVariable && (out.Sign || out.Encrypt || out.Compress) && out.MaxRecordSize > maxSecuredVRecl && reclA != nil {
			d.errorf(reclA.Expr.Range(), "Value out of range", "V records of a signed, encrypted or compressed file carry a 2-octet length, so max_record_size is at most %d.", maxSecuredVRecl)
		}
	default:
		if reclA != nil {
			d.errorf(reclA.NameRange, "Unexpected max_record_size", "max_record_size applies to formats F and V; format %s has no records.", out.Format)
			out.MaxRecordSize = 0
		}
	}
	var descA *hcl.Attribute
	out.Description, descA = b.str("description", "")
	if descA != nil && len(out.Description) > MaxDescLength {
		d.errorf(descA.Expr.Range(), "Value out of range", "description is at most %d octets of UTF-8 (SFIDDESC); it has %d.", MaxDescLength, len(out.Description))
	}

	out.Retry = Retry{MaxAttempts: DefaultMaxAttempts, Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff}
	retries := b.blocks("retry")
	for _, extra := range retries[min(1, len(retries)):] {
		d.errorf(extra.DefRange, "Duplicate retry block", "An outbound block has at most one retry block.")
	}
	if len(retries) > 0 {
		rb := d.open(retries[0].Body, retrySchema)
		out.Retry.MaxAttempts, _ = rb.integer("max_attempts", DefaultMaxAttempts, 1, 1000, "")
		out.Retry.Backoff, _ = rb.duration("backoff", DefaultBackoff, time.Second, 24*time.Hour)
		var maxA *hcl.Attribute
		out.Retry.MaxBackoff, maxA = rb.duration("max_backoff", max(DefaultMaxBackoff, out.Retry.Backoff), time.Second, 7*24*time.Hour)
		if out.Retry.MaxBackoff < out.Retry.Backoff {
			rng := retries[0].DefRange
			if maxA != nil {
				rng = maxA.Expr.Range()
			}
			d.errorf(rng, "Value out of range", "max_backoff (%s) is shorter than backoff (%s).", out.Retry.MaxBackoff, out.Retry.Backoff)
		}
	}
	return out
}

// crossCheck validates relations that need the whole file.
func (d *decoder) crossCheck(cfg *Config) {
	seen := map[string]*Listener{}
	for _, l := range cfg.Listeners {
		if prev := seen[l.Address]; prev != nil {
			d.errorf(l.DeclRange, "Duplicate listener address", "Listeners %q and %q both use %s.", prev.Name, l.Name, l.Address)
		}
		seen[l.Address] = l
	}
	for _, p := range cfg.Partners {
		// Only worth saying about a file that is otherwise correct.
		if p.Address == "" && len(cfg.Listeners) == 0 && !d.diags.HasErrors() {
			d.warnf(p.DeclRange, "Partner cannot connect", "Partner %q has no address to call and there is no listener block for it to call us on.", p.Name)
		}
	}
	for _, in := range cfg.Inbound {
		for _, name := range in.Partners {
			if p := cfg.Partner(name); p != nil && p.ConnectionType == ConnectionSend {
				d.warnf(in.DeclRange, "Partner only sends", "Inbound %q lists partner %q, whose connection_type = \"send\": it will never deliver files to us.", in.Name, name)
			}
		}
	}
}
