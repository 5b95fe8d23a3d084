package mobileauth

import (
	"net/url"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RedactSecret replaces secret in s with mask wherever it appears as a whole
// value, in clear or URL-encoded (as in a URL's user info, a path or a
// query): an occurrence counts only when no letter or digit touches it on
// either side. So a password quoted, in key=value or in a URL is hidden,
// while a very short one ("a", "pw") does not blank those letters in every
// other word of a driver's message.
func RedactSecret(s, secret, mask string) string {
	if secret == "" {
		return s
	}
	for _, form := range secretForms(secret) {
		s = replaceWhole(s, form, mask)
	}
	return s
}

// secretForms is secret and its URL encodings, longest first, so an
// encoding is replaced before any shorter form found inside it.
func secretForms(secret string) []string {
	userinfo := strings.TrimPrefix(url.UserPassword("", secret).String(), ":")
	seen := map[string]bool{}
	var forms []string
	for _, f := range []string{secret, userinfo, url.PathEscape(secret), url.QueryEscape(secret)} {
		if !seen[f] {
			seen[f] = true
			forms = append(forms, f)
		}
	}
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return forms
}

// replaceWhole replaces the occurrences of form in s that no letter or
// digit touches (judged on s itself, not on what was already replaced).
func replaceWhole(s, form, mask string) string {
	var b strings.Builder
	written := 0 // s[:written] is in b
	for from := 0; ; {
		i := strings.Index(s[from:], form)
		if i < 0 {
			break
		}
		start, end := from+i, from+i+len(form)
		before, _ := utf8.DecodeLastRuneInString(s[:start])
		after, _ := utf8.DecodeRuneInString(s[end:])
		if (start == 0 || !wordRune(before)) && (end == len(s) || !wordRune(after)) {
			b.WriteString(s[written:start])
			b.WriteString(mask)
			written, from = end, end
			continue
		}
		from = start + 1
	}
	b.WriteString(s[written:])
	return b.String()
}

func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
