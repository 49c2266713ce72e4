package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/chromedp/chromedp"

	"github.com/vanta-ledger/vanta/internal/auth"
	"github.com/vanta-ledger/vanta/internal/seal"
)

// These tests drive the console pages in a real headless Chromium, against
// the real appliance, the way custodians use them.

const chromiumPath = "/usr/bin/chromium"

// browser starts a headless Chromium for one test and returns a context for
// its first tab, bounded by the guard.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s (scripts/install-deps installs it): %v", chromiumPath, err)
	}
	profile, err := os.MkdirTemp("", "vanta-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1100, 900),
	)
	// Trust exactly the keys of the running instances (each made its own
	// certificate at first boot), as an operator who checked the
	// fingerprint would: no blanket --ignore-certificate-errors.
	var spkis []string
	instances.Lock()
	live := make([]*instance, 0, len(instances.live))
	for in := range instances.live {
		live = append(live, in)
	}
	instances.Unlock()
	for _, in := range live {
		if in.scheme == "https" {
			spkis = append(spkis, in.spki())
		}
	}
	if len(spkis) > 0 {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(spkis, ",")))
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser to exit
		os.RemoveAll(profile)
	})
	// The first Do starts the browser and ties its life to ctx, so it gets
	// no deadline; the guard bounds what the test does with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	guarded, cancel := context.WithTimeout(ctx, guard)
	t.Cleanup(cancel)
	return guarded
}

// tab is one page in the browser, with what it reported as errors.
type tab struct {
	t    *testing.T
	ctx  context.Context
	name string

	mu     sync.Mutex
	errors []string
}

// newTab opens parent's tab (parent from browser) or, with fresh, another
// tab of the same browser, and starts collecting its errors.
func newTab(t *testing.T, parent context.Context, name string, fresh bool) *tab {
	t.Helper()
	ctx := parent
	if fresh {
		var cancel context.CancelFunc
		ctx, cancel = chromedp.NewContext(parent)
		t.Cleanup(cancel)
	}
	tb := &tab{t: t, ctx: ctx, name: name}
	// Exceptions, console errors and Content-Security-Policy refusals are
	// bugs of the page. Failed requests are not: the pages expect the API's
	// 4xx answers to refused shares.
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
				continue
			}
			if m.Source == "network" && strings.Contains(m.Text, "Failed to load resource") {
				continue
			}
			tb.mu.Lock()
			tb.errors = append(tb.errors, m.String())
			tb.mu.Unlock()
		}
	}()
	return tb
}

func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
}

// eval runs a JavaScript expression and decodes its value into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("%s: evaluate %s: %v", tb.name, expr, err)
	}
	return v
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitFor polls a JavaScript condition until it holds; the guard, not a
// sleep, bounds the wait. On failure it reports what shows says.
func (tb *tab) waitFor(what, cond, shows string) {
	tb.t.Helper()
	_, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(0)))
	if err != nil {
		got, _ := chromedp.Run(context.WithoutCancel(tb.ctx), chromedp.Evaluate[string](shows))
		tb.t.Fatalf("%s: waiting for %s: %v; the page shows %q", tb.name, what, err, got)
	}
}

// waitText waits until the element sel is shown (no [hidden] around it) and
// its text contains want.
func (tb *tab) waitText(sel, want string) {
	tb.t.Helper()
	cond := fmt.Sprintf(`(() => { const e = document.querySelector(%s);
		return !!e && !e.closest("[hidden]") && e.textContent.includes(%s); })()`, jsString(sel), jsString(want))
	tb.waitFor(fmt.Sprintf("%s to say %q", sel, want), cond, textOf(sel))
}

// waitShown waits until the element sel exists and is not hidden.
func (tb *tab) waitShown(sel string) {
	tb.t.Helper()
	cond := fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && !e.closest("[hidden]"); })()`, jsString(sel))
	tb.waitFor(sel+" to show", cond, `document.querySelector("main").innerText`)
}

func textOf(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e ? e.textContent : "(no such element)"; })()`, jsString(sel))
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return eval[string](tb, textOf(sel))
}

func (tb *tab) value(sel string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf(`document.querySelector(%s).value`, jsString(sel)))
}

func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	dir := os.Getenv("VANTA_SCREENSHOT_DIR") // to keep them; they are never committed
	if dir == "" {
		dir = tb.t.TempDir()
	}
	buf, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("%s: screenshot: %v", tb.name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s", path)
}

// extraScreenshot is a screenshot taken only when VANTA_SCREENSHOT_DIR asks
// to keep them: for looking at every state of the pages.
func (tb *tab) extraScreenshot(name string) {
	tb.t.Helper()
	if os.Getenv("VANTA_SCREENSHOT_DIR") != "" {
		tb.screenshot(name)
	}
}

// enterSetupToken answers the setup page's first question with the token
// the operator reads on the box (`vanta ctl setup-token`).
func (tb *tab) enterSetupToken(in *instance) {
	tb.t.Helper()
	tok := setupTokenFromCtl(tb.t, in.data)
	tb.waitShown("#step-token")
	tb.do("enter the setup token",
		chromedp.SendKeys(chromedp.CSS("#setup-token"), tok),
		chromedp.Click(chromedp.CSS("#token-submit")))
}

// checkErrors fails the test for anything the page reported as an error.
func (tb *tab) checkErrors() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, e := range tb.errors {
		tb.t.Errorf("%s: the page reported: %s", tb.name, e)
	}
	tb.errors = nil
}

// decryptShare opens a share the page showed encrypted to a custodian's age key.
func decryptShare(t *testing.T, armored string, id *age.X25519Identity) string {
	t.Helper()
	if !strings.HasPrefix(armored, armor.Header) {
		t.Fatalf("an age custodian's share is shown as %q", armored)
	}
	r, err := age.Decrypt(armor.NewReader(strings.NewReader(armored)), id)
	if err != nil {
		t.Fatalf("decrypt the shown share: %v", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(plain)
}

// foreignShare is well-formed but belongs to no slot of any appliance.
func foreignShare() string {
	b := make([]byte, 65)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func TestSetupWizardInBrowser(t *testing.T) {
	data := dataDir(t)
	in := boot(t, data)
	in.waitReady()

	page := newTab(t, browser(t), "setup", false)
	page.do("open /setup", chromedp.Navigate(in.url("/setup")))
	page.enterSetupToken(in)
	page.waitShown("#step-configure")
	if n, k := page.value("#shares"), page.value("#threshold"); n != "7" || k != "5" {
		t.Errorf("defaults: %s shares, threshold %s; want 7 and 5", n, k)
	}
	page.waitText("#threshold-explain", "Any 5 of the 7 custodians")
	page.waitText("#preset-why", "any five of the seven custodians can unseal")
	// The presets fill both numbers; the recommended one puts 7/5 back.
	for _, p := range []struct{ id, n, k, explain string }{
		{"#preset-5-3", "5", "3", "Any 3 of the 5 custodians"},
		{"#preset-3-2", "3", "2", "Any 2 of the 3 custodians"},
		{"#preset-7-5", "7", "5", "Any 5 of the 7 custodians"},
	} {
		page.do("preset "+p.id, chromedp.Click(chromedp.CSS(p.id)))
		page.waitText("#threshold-explain", p.explain)
		if n, k := page.value("#shares"), page.value("#threshold"); n != p.n || k != p.k {
			t.Errorf("%s: %s shares, threshold %s", p.id, n, k)
		}
	}
	// Baraka uses age: his share is handed out encrypted to his key.
	baraka, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	page.do("name two custodians",
		chromedp.SendKeys(chromedp.CSS("#custodian-name-1"), "Amina"),
		chromedp.SendKeys(chromedp.CSS("#custodian-name-2"), "Baraka"),
		chromedp.Click(chromedp.CSS("#use-age")),
		chromedp.SendKeys(chromedp.CSS("#custodian-age-2"), baraka.Recipient().String()),
	)
	page.extraScreenshot("setup-1-configure.png")

	// A threshold above the number of shares: the API's reason shows next
	// to the field.
	page.do("ask for 9 of 7",
		chromedp.SetValue(chromedp.CSS("#threshold"), "9"),
		chromedp.Click(chromedp.CSS("#init-submit")))
	page.waitText(`[data-error-for="threshold"]`, "9 is not between 2 and shares (7)")
	if st := in.sealStatus(); st.Shares != 0 {
		t.Fatalf("a refused init changed the seal: %+v", st)
	}
	page.do("create the shares",
		chromedp.SetValue(chromedp.CSS("#threshold"), "5"),
		chromedp.Click(chromedp.CSS("#init-submit")))

	names := map[int]string{1: "Amina", 2: "Baraka", 3: "Custodian 3", 7: "Custodian 7"}
	var shares []string
	for slot := 1; slot <= 7; slot++ {
		page.waitShown(fmt.Sprintf(`#share-card[data-slot="%d"]`, slot))
		page.waitText("#share-counter", fmt.Sprintf("Custodian %d of 7", slot))
		if want, ok := names[slot]; ok {
			if got := page.text("#share-custodian"); got != want {
				t.Errorf("slot %d is shown as %q, want %q", slot, got, want)
			}
		}
		shown := page.text("#share-text")
		share := strings.Join(strings.Fields(shown), "")
		if slot == 2 {
			page.extraScreenshot("setup-2-encrypted.png")
			share = strings.ReplaceAll(decryptShare(t, shown, baraka), "-", "")
			shown = share[:4] + " " + share[4:8] // what must not be left on the page
		}
		if len(share) != 125 {
			t.Fatalf("slot %d: share on the page is %q", slot, shown)
		}
		shares = append(shares, share)
		if slot == 1 {
			page.screenshot("setup.png")
			page.do("copy", chromedp.Click(chromedp.CSS("#share-copy")))
			page.waitText("#share-action-status", "Copied")
		}
		page.do("tick saved and continue",
			chromedp.Click(chromedp.CSS("#share-saved")),
			chromedp.WaitEnabled(chromedp.CSS("#share-continue")),
			chromedp.Click(chromedp.CSS("#share-continue")),
		)
		page.waitShown("#confirm-share")
		if strings.Contains(eval[string](page, `document.body.textContent`), strings.Fields(shown)[0]+" "+strings.Fields(shown)[1]) {
			t.Errorf("slot %d: the share is still on the page after Continue", slot)
		}
		if slot == 1 {
			// Refused shares: the API's reason shows next to the field, and
			// the custodian stays on their confirmation.
			page.do("enter a malformed share",
				chromedp.SetValue(chromedp.CSS("#confirm-share"), "not a share"),
				chromedp.Click(chromedp.CSS("#confirm-submit")))
			page.waitShown(`#confirm-message[data-code="malformed_share"]`)
			page.waitText("#confirm-message", "want 125")
			// One character mistyped: the page names its group.
			typo := []byte(share)
			typo[20] = map[bool]byte{true: 'A', false: 'B'}[typo[20] != 'A']
			page.do("enter the share with a typo in group 4",
				chromedp.SetValue(chromedp.CSS("#confirm-share"), string(typo)),
				chromedp.Click(chromedp.CSS("#confirm-submit")))
			page.waitText("#confirm-message", "group 4 looks mistyped")
			page.do("enter another appliance's share",
				chromedp.SetValue(chromedp.CSS("#confirm-share"), foreignShare()),
				chromedp.Click(chromedp.CSS("#confirm-submit")))
			page.waitShown(`#confirm-message[data-code="unknown_share"]`)
			page.waitText("#confirm-message", "does not match any custodian slot")
			page.extraScreenshot("setup-2-confirm-refused.png")
		}
		page.do("confirm the share",
			chromedp.SetValue(chromedp.CSS("#confirm-share"), share),
			chromedp.Click(chromedp.CSS("#confirm-submit")))
	}
	// The last confirmation rebuilt the secret: the appliance is open.
	page.waitShown("#step-done")
	page.waitText("#step-done h1", "initialized and unsealed")
	page.waitShown("#done-continue")
	page.extraScreenshot("setup-3-done.png")
	page.do("continue to the creator account", chromedp.Click(chromedp.CSS("#done-continue")))
	page.waitShown("#step-god")
	page.checkErrors()

	st := in.sealStatus()
	if !st.Initialized || st.Sealed || st.PendingConfirmations != 0 || st.Shares != 7 || st.Threshold != 5 {
		t.Fatalf("after the wizard: %+v", st)
	}
	if len(st.Custodians) != 7 || st.Custodians[0].Name != "Amina" || st.Custodians[1].Name != "Baraka" || st.Custodians[2].Name != "custodian 3" {
		t.Errorf("custodians after the wizard: %+v", st.Custodians)
	}

	// Once initialized and sealed (no GOD yet: sealing needs no token),
	// the wizard only points to /unseal, and goes on by itself when the
	// custodians have unsealed.
	if code, body := in.post("/api/v1/sys/seal", nil, nil); code != 200 {
		t.Fatalf("seal: %d %s", code, body)
	}
	page.do("reload /setup", chromedp.Navigate(in.url("/setup")))
	page.waitShown("#step-already")
	if href := eval[string](page, `document.querySelector("#already-to-unseal").getAttribute("href")`); href != "/unseal?next=setup" {
		t.Errorf("the sealed wizard links to %q", href)
	}
	page.extraScreenshot("setup-4-already.png")
	// The shares the page showed are the real ones.
	if st := in.unseal(shares[2:7]); st.Sealed {
		t.Errorf("five shares read from the page did not unseal: %+v", st)
	}
	// The page was reloaded, and keeps the setup token in memory only.
	page.enterSetupToken(in)
	page.waitShown("#step-god")
	page.checkErrors()
}

func TestFiveCustodiansUnsealInBrowser(t *testing.T) {
	data := dataDir(t)
	in := boot(t, data)
	in.waitReady()
	shares := in.initSeal(7, 5)
	if code, body := in.post("/api/v1/sys/seal", nil, nil); code != 200 { // the ceremony left it open
		t.Fatalf("seal: %d %s", code, body)
	}
	url := in.url("/unseal")

	ctx := browser(t)
	// A screen that stays open through the whole round: it follows the
	// others only by polling.
	board := newTab(t, ctx, "board", false)
	board.do("open /unseal", chromedp.Navigate(url))
	board.waitText("#progress-text", "0 of 5 shares entered")
	board.waitText("#seal-state", "Sealed")
	if n := eval[int](board, `document.querySelectorAll("#custodians li").length`); n != 7 {
		t.Errorf("custodian list has %d slots, want 7", n)
	}

	// A share entered and then discarded with Reset: the round starts over.
	board.do("enter the seventh share",
		chromedp.SetValue(chromedp.CSS("#share-input"), shares[6]),
		chromedp.Click(chromedp.CSS("#submit-share")))
	board.waitText("#progress-text", "1 of 5 shares entered")
	// Resetting takes a share entered in the round: another is refused.
	board.do("reset with a share not entered",
		chromedp.Click(chromedp.CSS("#reset-button")),
		chromedp.WaitVisible(chromedp.CSS("#reset-yes")),
		chromedp.SetValue(chromedp.CSS("#reset-share"), shares[0]),
		chromedp.Click(chromedp.CSS("#reset-yes")))
	board.waitShown(`#reset-message[data-code="reset_not_allowed"]`)
	board.waitText("#progress-text", "1 of 5 shares entered")
	board.do("reset with the share entered",
		chromedp.Click(chromedp.CSS("#reset-button")),
		chromedp.WaitVisible(chromedp.CSS("#reset-yes")),
		chromedp.SetValue(chromedp.CSS("#reset-share"), shares[6]),
		chromedp.Click(chromedp.CSS("#reset-yes")))
	board.waitShown(`#reset-message[data-code="reset"]`)
	board.waitText("#progress-text", "0 of 5 shares entered")
	if st := in.sealStatus(); st.Progress != 0 {
		t.Fatalf("progress after reset: %+v", st)
	}

	var last *tab
	for i := range 5 {
		slot := i + 1
		c := newTab(t, ctx, fmt.Sprintf("custodian %d", slot), true)
		last = c
		c.do("open /unseal", chromedp.Navigate(url))
		c.waitText("#progress-text", fmt.Sprintf("%d of 5 shares entered", i))
		// The first custodian types the share key by key; the others paste.
		enter := chromedp.SetValue(chromedp.CSS("#share-input"), shares[i])
		if i == 0 {
			enter = chromedp.SendKeys(chromedp.CSS("#share-input"), shares[i])
		}
		c.do("enter the share", enter, chromedp.Click(chromedp.CSS("#submit-share")))
		if slot == 5 {
			break
		}
		c.waitShown(`#share-message[data-code="accepted"]`)
		c.waitText("#share-message", fmt.Sprintf("slot %d", slot))
		c.waitText("#progress-text", fmt.Sprintf("%d of 5 shares entered", slot))
		if v := c.value("#share-input"); v != "" {
			t.Errorf("custodian %d: the input still holds %q after submitting", slot, v)
		}
		if typ := eval[string](c, `document.querySelector("#share-input").type`); typ != "password" {
			t.Errorf("share input is of type %q", typ)
		}
		c.waitShown(fmt.Sprintf(`#custodians li[data-slot="%d"][data-entered="true"]`, slot))
		if n := eval[int](c, `document.querySelectorAll('#custodians li[data-entered="true"]').length`); n != slot {
			t.Errorf("after custodian %d, %d slots are marked entered", slot, n)
		}

		if slot == 2 {
			// A share of no slot, a share entered twice and no share at
			// all: each says so, and none counts.
			c.do("enter another appliance's share",
				chromedp.SetValue(chromedp.CSS("#share-input"), foreignShare()),
				chromedp.Click(chromedp.CSS("#submit-share")))
			c.waitShown(`#share-message[data-code="unknown_share"]`)
			c.waitText("#share-message", "does not match any custodian slot")
			c.waitText("#progress-text", "2 of 5 shares entered")
			c.do("enter the first share again",
				chromedp.SetValue(chromedp.CSS("#share-input"), shares[0]),
				chromedp.Click(chromedp.CSS("#submit-share")))
			c.waitShown(`#share-message[data-code="duplicate_share"]`)
			c.waitText("#share-message", "slot 1")
			c.extraScreenshot("unseal-2-duplicate.png")
			c.do("enter something that is no share",
				chromedp.SetValue(chromedp.CSS("#share-input"), "%%%"),
				chromedp.Click(chromedp.CSS("#submit-share")))
			c.waitShown(`#share-message[data-code="malformed_share"]`)
			c.waitText("#share-message", "not a complete share")
			c.waitText("#progress-text", "2 of 5 shares entered")
			if st := in.sealStatus(); st.Progress != 2 || !st.Sealed {
				t.Fatalf("refused shares changed progress: %+v", st)
			}
		}
		if slot == 3 {
			board.waitText("#progress-text", "3 of 5 shares entered")
			board.waitShown(`#custodians li[data-slot="3"][data-entered="true"]`)
			c.screenshot("unseal.png")
		}
		c.checkErrors()
	}

	last.waitShown("#unsealed-view")
	last.waitText("#seal-state", "Unsealed")
	board.waitShown("#unsealed-view")
	board.extraScreenshot("unseal-3-unsealed.png")
	if st := in.sealStatus(); st.Sealed {
		t.Fatalf("sealed after five custodians: %+v", st)
	}
	last.checkErrors()
	board.checkErrors()
}

// TestPendingRekeyWarningInBrowser: a rekey proposed while sealed (which
// anyone who reaches the appliance may do) is shown on /unseal, with who
// started it, from where, and the age keys the new shares would go to,
// before a custodian types a share; with no rekey the warning is hidden.
func TestPendingRekeyWarningInBrowser(t *testing.T) {
	in := boot(t, dataDir(t))
	in.waitReady()
	in.initSeal(3, 2)
	in.mustCall("POST", "/api/v1/sys/seal", "", nil, 200, nil) // the ceremony left it open; no GOD yet
	attacker, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	recipient := attacker.Recipient().String()

	ctx := browser(t)
	c := newTab(t, ctx, "custodian", false)
	c.do("open /unseal", chromedp.Navigate(in.url("/unseal")))
	c.waitText("#progress-text", "0 of 2 shares entered")
	if hidden := eval[bool](c, `document.querySelector("#rekey-card").hidden && document.querySelector("#rekey-form-note").hidden`); !hidden {
		t.Errorf("the rekey warning shows with no rekey pending: %q", c.text("#rekey-card"))
	}

	evil := map[string]any{"shares": 2, "threshold": 2, "custodians": []map[string]string{
		{"name": "Mallory", "age_recipient": recipient}}}
	if code, body := in.post("/api/v1/sys/rekey/init", evil, nil); code != 200 {
		t.Fatalf("rekey/init while sealed: %d %s", code, body)
	}
	if r := in.sealStatus().Rekey; r == nil || r.StartedBy != "unauthenticated while sealed" {
		t.Fatalf("seal-status rekey after rekey/init while sealed: %+v", r)
	}

	// The page polls: the warning appears without a reload.
	c.waitShown("#rekey-card")
	c.waitText("#rekey-recipients", "Mallory")
	c.waitText("#rekey-recipients", recipient)
	c.waitText("#rekey-recipients", "Custodian 2 (no name given)") // the slot the request left unnamed
	c.waitText("#rekey-ip", "127.0.0.1")
	c.waitText("#rekey-started-by", "Unauthenticated while sealed")
	c.waitText("#rekey-new-set", "2 new shares; any 2 of them")
	c.waitText("#rekey-not-approval", "does NOT approve the rekey")
	c.waitText("#rekey-not-approval", "vanta operator rekey update")
	c.waitText("#rekey-cancel", "vanta operator rekey cancel")
	c.waitText("#rekey-cancel", "GOD")
	c.waitShown("#rekey-form-note")
	if got := eval[string](c, `document.querySelector("#rekey-started-at").getAttribute("datetime")`); got == "" {
		t.Error("the rekey's start time is not shown")
	}
	for _, sel := range []string{"#rekey-started-at", "#rekey-expires"} {
		if got := c.text(sel); got == "" || strings.Contains(got, "unknown") || strings.Contains(got, "not given") {
			t.Errorf("%s shows %q", sel, got)
		}
	}
	// The recipient is text, in the order the new shares go to.
	if got := eval[string](c, `document.querySelector("#rekey-recipients li").dataset.recipient`); got != recipient {
		t.Errorf("first new custodian's recipient is %q, want %q", got, recipient)
	}
	// It comes before the share form.
	if above := eval[bool](c, `!!(document.querySelector("#rekey-card").compareDocumentPosition(document.querySelector("#share-input")) & Node.DOCUMENT_POSITION_FOLLOWING)`); !above {
		t.Error("the rekey warning is not above the share input")
	}
	c.extraScreenshot("unseal-rekey-pending.png")
	c.checkErrors()
}

func TestUnfinishedSetupInBrowser(t *testing.T) {
	data := dataDir(t)
	in := boot(t, data)
	in.waitReady()
	// A ceremony begun elsewhere and left half done.
	var res seal.InitResult
	if code, body := in.post("/api/v1/sys/init", map[string]any{"shares": 3, "threshold": 2}, &res); code != 200 {
		t.Fatalf("init: %d %s", code, body)
	}

	page := newTab(t, browser(t), "setup", false)
	page.do("open /setup", chromedp.Navigate(in.url("/setup")))
	page.waitShown("#step-pending")
	page.waitText("#pending-summary", "3 custodians still need to confirm")
	page.do("confirm the second share",
		chromedp.SetValue(chromedp.CSS("#pending-share"), res.Shares[1].Share),
		chromedp.Click(chromedp.CSS("#pending-submit")))
	page.waitShown(`#pending-list li[data-slot="2"][data-confirmed="true"]`)
	page.waitText("#pending-message", "Confirmed: slot 2")
	page.waitText("#pending-summary", "2 custodians still need to confirm")
	page.extraScreenshot("setup-5-pending.png")

	// Starting over reissues: the shares handed out before stop working.
	page.do("start over", chromedp.Click(chromedp.CSS("#start-over")))
	page.enterSetupToken(in)
	page.waitShown("#step-configure")
	page.waitShown("#reissue-note")
	if n, k := page.value("#shares"), page.value("#threshold"); n != "3" || k != "2" {
		t.Errorf("start over offers %s shares, threshold %s; want the pending 3 and 2", n, k)
	}
	// This page did not run the ceremony: it has no ceremony token, and
	// starting over without proof is refused.
	page.waitShown("#reissue-proof-field")
	page.do("create new shares without proof", chromedp.Click(chromedp.CSS("#init-submit")))
	page.waitShown(`#configure-error[data-code="ceremony_proof_required"]`)
	if st := in.sealStatus(); st.PendingConfirmations != 2 {
		t.Fatalf("a refused start over changed the ceremony: %+v", st)
	}
	page.do("create new shares with a custodian's pending share",
		chromedp.SetValue(chromedp.CSS("#reissue-proof"), res.Shares[0].Share),
		chromedp.Click(chromedp.CSS("#init-submit")))
	page.waitShown(`#share-card[data-slot="1"]`)
	if code, body := in.post("/api/v1/sys/init/confirm", map[string]string{"share": res.Shares[0].Share}, nil); code != 400 || errorCode(body) != "unknown_share" {
		t.Errorf("a share of the replaced set: %d %s", code, body)
	}
	// This page ran the new ceremony: it starts over with the token it
	// was given, asking for nothing.
	page.do("start over again from the first share",
		chromedp.Click(chromedp.CSS("#share-saved")),
		chromedp.WaitEnabled(chromedp.CSS("#share-continue")),
		chromedp.Click(chromedp.CSS("#share-continue")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-start-over")),
		chromedp.Click(chromedp.CSS("#confirm-start-over")))
	page.waitShown("#reissue-note")
	if eval[bool](page, `!document.querySelector("#reissue-proof-field").hidden`) {
		t.Error("the page that ran the ceremony asks for a proof")
	}
	page.do("create new shares with the ceremony token", chromedp.Click(chromedp.CSS("#init-submit")))
	for slot := 1; slot <= 3; slot++ {
		page.waitShown(fmt.Sprintf(`#share-card[data-slot="%d"]`, slot))
		share := strings.Join(strings.Fields(page.text("#share-text")), "")
		page.do("save, continue and confirm",
			chromedp.Click(chromedp.CSS("#share-saved")),
			chromedp.WaitEnabled(chromedp.CSS("#share-continue")),
			chromedp.Click(chromedp.CSS("#share-continue")),
			chromedp.WaitVisible(chromedp.CSS("#confirm-share")),
			chromedp.SetValue(chromedp.CSS("#confirm-share"), share),
			chromedp.Click(chromedp.CSS("#confirm-submit")))
	}
	page.waitShown("#step-done")
	page.checkErrors()
	if st := in.sealStatus(); !st.Initialized || st.Sealed || st.Shares != 3 || st.Threshold != 2 {
		t.Fatalf("after starting over: %+v", st)
	}
	// The ceremony is over: its token is no longer kept by the page.
	if tok := eval[string](page, `sessionStorage.getItem("vanta.ceremony_token") || ""`); tok != "" {
		t.Error("the ceremony token outlived the ceremony in session storage")
	}
}

// TestSetupGODAndFirstCompanyInBrowser drives the wizard's second part, on
// an unsealed appliance: the creator account with its authenticator, the
// first sign-in, the first company; then a second visit, which finds the
// creator account and signs in with it instead.
func TestSetupGODAndFirstCompanyInBrowser(t *testing.T) {
	data := dataDir(t)
	in := boot(t, data)
	in.waitReady()
	in.unseal(in.initSeal(2, 2))
	url := in.url("/setup")

	page := newTab(t, browser(t), "setup", false)
	page.do("open /setup", chromedp.Navigate(url))
	page.enterSetupToken(in)
	page.waitShown("#step-god")
	page.waitText("#stepper-access li.current", "Creator account")

	const email, name, password = "wanjiru@vanta.test", "Wanjiru Kamau", "maize fields under a long rain"
	// The appliance's password policy and the page's own check speak next
	// to the field at fault.
	page.do("fill in the account with a short password",
		chromedp.SendKeys(chromedp.CSS("#god-email"), email),
		chromedp.SendKeys(chromedp.CSS("#god-name"), name),
		chromedp.SendKeys(chromedp.CSS("#god-password"), "short pass"),
		chromedp.SendKeys(chromedp.CSS("#god-password2"), "short pass"),
		chromedp.Click(chromedp.CSS("#god-submit")))
	page.waitShown(`#god-form [data-error-for="password"][data-code="weak_password"]`)
	page.waitText(`#god-form [data-error-for="password"]`, "at least 12 characters")
	page.do("mistype the repeated password",
		chromedp.SetValue(chromedp.CSS("#god-password"), password),
		chromedp.SetValue(chromedp.CSS("#god-password2"), password+"s"),
		chromedp.Click(chromedp.CSS("#god-submit")))
	page.waitText(`#god-form [data-error-for="password2"]`, "not the same")
	page.extraScreenshot("setup-6-god-refused.png")
	page.do("create the creator account",
		chromedp.SetValue(chromedp.CSS("#god-password2"), password),
		chromedp.Click(chromedp.CSS("#god-submit")))

	// The authenticator key, grouped for typing, and the setup link.
	page.waitShown("#step-totp")
	page.waitText("#totp-email", email)
	shown := page.text("#totp-secret")
	secret := strings.Join(strings.Fields(shown), "")
	if len(strings.Fields(shown)) < 2 || len(secret) < 26 {
		t.Fatalf("the TOTP key is shown as %q", shown)
	}
	uri := page.text("#totp-uri")
	if !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		t.Errorf("the setup link %q does not carry the key %s", uri, secret)
	}
	if href := eval[string](page, `document.querySelector("#totp-open").getAttribute("href")`); href != uri {
		t.Errorf("the open link goes to %q", href)
	}
	// The QR code is drawn (a PNG the CSP lets through) and shown.
	if w := eval[float64](page, `(function(){const i=document.querySelector("#totp-qr"); return i && i.complete && !i.closest("[hidden]") ? i.naturalWidth : 0})()`); w < 100 {
		t.Errorf("the QR code is not shown (natural width %v)", w)
	}
	page.do("copy the key", chromedp.Click(chromedp.CSS("#totp-copy-secret")))
	page.waitText("#totp-secret-status", "Copied")
	page.screenshot("setup-god-totp.png")

	// A wrong code is refused next to the code field; the right one signs in.
	now := time.Now()
	code, err := auth.TOTPCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	wrong := wrongCode(t, secret, now)
	page.do("enter a wrong code",
		chromedp.SendKeys(chromedp.CSS("#totp-code"), wrong),
		chromedp.Click(chromedp.CSS("#totp-submit")))
	page.waitShown(`#totp-form [data-error-for="totp"][data-code="invalid_totp"]`)
	if inv := eval[string](page, `document.querySelector("#totp-code").getAttribute("aria-invalid") || ""`); inv != "true" {
		t.Errorf("the code field is not marked invalid: %q", inv)
	}
	page.extraScreenshot("setup-7-totp-refused.png")
	page.do("enter the code of the authenticator",
		chromedp.SetValue(chromedp.CSS("#totp-code"), code),
		chromedp.Click(chromedp.CSS("#totp-submit")))

	page.waitShown("#step-company")
	page.waitText("#stepper-access li.current", "First company")
	body := eval[string](page, `document.body.innerHTML`)
	for _, gone := range []string{secret[:8], secret[len(secret)-8:], password} {
		if strings.Contains(body, gone) {
			t.Errorf("%q is still in the page after sign-in", gone)
		}
	}
	if kept := eval[string](page, `JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie`); kept != "{}{}" {
		t.Errorf("the page stored something: %s", kept)
	}

	// A KRA PIN of the wrong shape: the appliance's reason shows by the field.
	page.do("fill in the company with a bad KRA PIN",
		chromedp.SendKeys(chromedp.CSS("#company-name"), "Duka la Mama Ltd"),
		chromedp.SendKeys(chromedp.CSS("#tax-id"), "P12345"),
		chromedp.SendKeys(chromedp.CSS("#registration-number"), "PVT-2024-7781"),
		chromedp.SendKeys(chromedp.CSS("#industry"), "Retail"),
		chromedp.SendKeys(chromedp.CSS("#address"), "Moi Avenue 12, Nairobi"),
		chromedp.SendKeys(chromedp.CSS("#phone"), "+254 712 345678"),
		chromedp.SendKeys(chromedp.CSS("#company-email"), "accounts@duka.test"),
		chromedp.Click(chromedp.CSS("#company-submit")))
	page.waitShown(`#company-form [data-error-for="tax_id"][data-code="validation_failed"]`)
	page.waitText(`#company-form [data-error-for="tax_id"]`, "not a KRA PIN")
	if by := eval[string](page, `document.querySelector('#company-form [data-error-for="tax_id"]').closest(".field").querySelector("input").id`); by != "tax-id" {
		t.Errorf("the KRA PIN error shows by #%s", by)
	}
	if inv := eval[string](page, `document.querySelector("#tax-id").getAttribute("aria-invalid") || ""`); inv != "true" {
		t.Errorf("the KRA PIN field is not marked invalid: %q", inv)
	}
	if eval[bool](page, `!document.querySelector("#company-error").hidden`) {
		t.Errorf("a field's error also shows above the button: %q", page.text("#company-error"))
	}
	page.screenshot("setup-company-refused.png")
	pg := pgConnect(t, data)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	var companies int
	if err := pg.QueryRow(ctx, "SELECT count(*) FROM vanta.companies").Scan(&companies); err != nil || companies != 0 {
		t.Fatalf("after a refused company: %d companies (%v)", companies, err)
	}
	page.do("correct the KRA PIN and create the company",
		chromedp.SetValue(chromedp.CSS("#tax-id"), "p051234567z"),
		chromedp.Click(chromedp.CSS("#company-submit")))

	page.waitShown("#step-finish")
	page.waitText("#finish-facts", "P051234567Z")
	page.waitText("#finish-summary", "Duka la Mama Ltd is created")
	page.screenshot("setup-finish.png")
	page.checkErrors()

	// What the page did is what the appliance holds.
	var godEmail, godName string
	var hasTOTP bool
	if err := pg.QueryRow(ctx, "SELECT email, name, totp_secret_enc IS NOT NULL FROM auth.users WHERE is_god").Scan(&godEmail, &godName, &hasTOTP); err != nil {
		t.Fatalf("the creator account: %v", err)
	}
	if godEmail != email || godName != name || !hasTOTP {
		t.Errorf("the creator account is %q %q, TOTP %v", godEmail, godName, hasTOTP)
	}
	var co struct{ id, name, tax, reg, industry, address, phone, email, status, currency, timezone string }
	if err := pg.QueryRow(ctx, `SELECT id::text, name, tax_id, registration_number, industry, address, phone, email, status,
		settings->>'currency', settings->>'timezone' FROM vanta.companies`).Scan(
		&co.id, &co.name, &co.tax, &co.reg, &co.industry, &co.address, &co.phone, &co.email, &co.status, &co.currency, &co.timezone); err != nil {
		t.Fatalf("the company: %v", err)
	}
	want := struct{ id, name, tax, reg, industry, address, phone, email, status, currency, timezone string }{
		co.id, "Duka la Mama Ltd", "P051234567Z", "PVT-2024-7781", "Retail", "Moi Avenue 12, Nairobi", "+254 712 345678",
		"accounts@duka.test", "active", "KES", "Africa/Nairobi"}
	if co != want {
		t.Errorf("the company is %+v, want %+v", co, want)
	}
	if !strings.Contains(page.text("#finish-facts"), co.id) {
		t.Errorf("the final step does not name company %s: %q", co.id, page.text("#finish-facts"))
	}

	// A second visit: the creator account exists, so the wizard says setup
	// is complete, shows no account form, and signs in with it; the company
	// step then offers to finish. The code of the next 30 s step is
	// accepted now (one step of clock skew is allowed) and is not a replay
	// of the one used above.
	page.do("reload /setup", chromedp.Navigate(url))
	page.waitShown("#step-complete")
	if eval[bool](page, `!document.querySelector("#step-god").hidden`) {
		t.Errorf("the creator account form shows after the account exists")
	}
	page.extraScreenshot("setup-8-complete.png")
	page.do("sign in from the completed setup", chromedp.Click(chromedp.CSS("#complete-login")))
	page.waitShown("#step-login")
	page.extraScreenshot("setup-8-login.png")
	next, err := auth.TOTPCode(secret, now.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	page.do("sign in as the creator",
		chromedp.SetValue(chromedp.CSS("#login-email"), email),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.SendKeys(chromedp.CSS("#login-code"), next),
		chromedp.Click(chromedp.CSS("#login-submit")))
	page.waitShown("#step-company")
	page.waitText("#company-existing", "Duka la Mama Ltd")
	page.extraScreenshot("setup-9-company-exists.png")
	page.do("finish without another company", chromedp.Click(chromedp.CSS("#company-skip")))
	page.waitShown("#step-finish")
	page.waitText("#finish-facts", co.id)
	page.do("sign out", chromedp.Click(chromedp.CSS("#finish-logout")))
	page.waitText("#finish-status", "Signed out.")
	page.checkErrors()
	var users int
	if err := pg.QueryRow(ctx, "SELECT count(*) FROM auth.users").Scan(&users); err != nil || users != 1 {
		t.Errorf("users after the second visit: %d (%v)", users, err)
	}
}

// wrongCode is a six-digit code that no step the appliance accepts now
// (one step either side) produces.
func wrongCode(t *testing.T, secret string, now time.Time) string {
	t.Helper()
	valid := map[string]bool{}
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		c, err := auth.TOTPCode(secret, now.Add(d))
		if err != nil {
			t.Fatal(err)
		}
		valid[c] = true
	}
	for i := 0; ; i++ {
		if c := fmt.Sprintf("%06d", i*7919%1000000); !valid[c] {
			return c
		}
	}
}

// TestAcceptInvitationInBrowser: an invitee opens the link an admin was
// given, makes an account as an admin and adds the second factor the page
// shows once; a spent token pasted by hand is refused by its field; a
// member of another company joins with the password of their account.
func TestAcceptInvitationInBrowser(t *testing.T) {
	w := newWorld(t)
	in := w.in
	type invited struct {
		Token      string
		AcceptPath string `json:"accept_path"`
	}
	var inv invited
	in.mustCall("POST", "/api/v1/companies/"+w.a.ID+"/invitations", w.byRole[auth.RoleAdmin].AccessToken,
		map[string]string{"email": "njeri@acme.test", "role": "admin"}, 201, &inv)
	if inv.AcceptPath != "/accept#"+inv.Token {
		t.Fatalf("accept_path %q for token %q", inv.AcceptPath, inv.Token)
	}
	ctx := browser(t)
	page := newTab(t, ctx, "invitee", false)
	page.do("open the invitation link", chromedp.Navigate(in.url(inv.AcceptPath)))
	page.waitShown("#token-from-link")
	if eval[bool](page, `!document.querySelector("#token-field").hidden`) {
		t.Errorf("the token field is asked for although the link carried the token")
	}
	if href := eval[string](page, `location.href`); strings.Contains(href, "vinv_") {
		t.Errorf("the token stays in the address bar: %s", href)
	}

	// The appliance's password policy speaks next to the password field,
	// and the token is still good after.
	const name, password = "Njeri Wambui", "baobab shade at noon market"
	page.do("fill in a short password",
		chromedp.SendKeys(chromedp.CSS("#name-input"), name),
		chromedp.SendKeys(chromedp.CSS("#password-input"), "short pass"),
		chromedp.Click(chromedp.CSS("#accept-submit")))
	page.waitShown(`#accept-form [data-error-for="password"][data-code="weak_password"]`)
	page.waitText(`#password-error`, "at least 12 characters")
	page.waitText(`#password-error`, "Choose another password")
	if inv := eval[string](page, `document.querySelector("#password-input").getAttribute("aria-invalid") || ""`); inv != "true" {
		t.Errorf("the password field is not marked invalid: %q", inv)
	}
	if eval[bool](page, `!document.querySelector("#accept-error").hidden`) {
		t.Errorf("the password's error also shows above the button: %q", page.text("#accept-error"))
	}
	page.extraScreenshot("accept-1-weak-password.png")
	page.do("show the password and choose a good one",
		chromedp.Click(chromedp.CSS(`[data-reveal="password-input"]`)),
		chromedp.SetValue(chromedp.CSS("#password-input"), password),
		chromedp.Click(chromedp.CSS("#accept-submit")))

	// Who joined which company as what, and the second factor, once.
	page.waitShown("#accepted-view")
	page.waitShown(`#accepted-role[data-role="admin"]`)
	page.waitText("#accepted-role", "Admin")
	page.waitText("#accepted-email", "njeri@acme.test")
	page.waitText("#accepted-name", name)
	page.waitText("#accepted-company", w.a.ID)
	page.waitText("#accepted-company-name", "Acme Ltd")
	page.waitShown(`#accepted-new[data-new-account="true"]`)
	page.waitText("#accepted-summary", "as admin")
	page.waitShown("#totp-card")
	if eval[bool](page, `!document.querySelector("#accept-card").hidden`) {
		t.Errorf("the form still shows after the invitation was accepted")
	}
	shown := page.text("#totp-secret")
	secret := strings.Join(strings.Fields(shown), "")
	if len(strings.Fields(shown)) < 2 || len(secret) < 26 {
		t.Fatalf("the TOTP key is shown as %q", shown)
	}
	if uri := page.text("#totp-uri"); !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) {
		t.Errorf("the setup link %q does not carry the key %s", uri, secret)
	}
	if w := eval[float64](page, `(function(){const i=document.querySelector("#totp-qr"); return i && i.complete && !i.closest("[hidden]") ? i.naturalWidth : 0})()`); w < 100 {
		t.Errorf("the QR code is not shown (natural width %v)", w)
	}
	for _, id := range []string{"#password-input", "#name-input", "#token-input"} {
		if v := page.value(id); v != "" {
			t.Errorf("%s still holds %q after acceptance", id, v)
		}
	}
	if body := eval[string](page, `document.body.innerHTML`); strings.Contains(body, password) || strings.Contains(body, inv.Token) {
		t.Errorf("the password or the token is still in the page")
	}
	page.screenshot("accept-totp.png")

	// The key shown is the account's: it signs in with it, as an admin of A.
	tk := in.login("njeri@acme.test", password, secret)
	var me struct {
		Name        string
		Memberships []struct {
			CompanyID string `json:"company_id"`
			Role      string
		}
	}
	in.mustCall("GET", "/api/v1/me", tk.AccessToken, nil, 200, &me)
	if me.Name != name || len(me.Memberships) != 1 || me.Memberships[0].CompanyID != w.a.ID || me.Memberships[0].Role != "admin" {
		t.Errorf("the new account is %+v", me)
	}
	if status, body := in.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "njeri@acme.test", "password": password}); status != 401 || errorCode(body) != "invalid_credentials" {
		t.Errorf("the new admin signs in without a code: %d %s", status, body)
	}

	page.do("confirm the key was added and hide it",
		chromedp.Click(chromedp.CSS("#totp-saved")),
		chromedp.WaitEnabled(chromedp.CSS("#totp-hide")),
		chromedp.Click(chromedp.CSS("#totp-hide")))
	page.waitShown("#totp-hidden")
	if body := eval[string](page, `document.body.innerHTML`); strings.Contains(body, secret[:8]) {
		t.Errorf("the key is still in the page after it was hidden")
	}
	if kept := eval[string](page, `JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie`); kept != "{}{}" {
		t.Errorf("the page stored something: %s", kept)
	}
	page.checkErrors()

	// Without a token in the link, it is pasted; a spent one is refused
	// next to its field and makes no account.
	again := newTab(t, ctx, "spent link", true)
	again.do("open /accept", chromedp.Navigate(in.url("/accept")))
	again.waitShown("#token-field")
	again.do("paste the spent link",
		chromedp.SetValue(chromedp.CSS("#token-input"), in.url(inv.AcceptPath)),
		chromedp.SendKeys(chromedp.CSS("#name-input"), "Someone Else"),
		chromedp.SendKeys(chromedp.CSS("#password-input"), "lanterns across a quiet bay"),
		chromedp.Click(chromedp.CSS("#accept-submit")))
	again.waitShown(`#accept-form [data-error-for="token"][data-code="invalid_invitation"]`)
	again.waitText("#token-error", "already used")
	if inv := eval[string](again, `document.querySelector("#token-input").getAttribute("aria-invalid") || ""`); inv != "true" {
		t.Errorf("the token field is not marked invalid: %q", inv)
	}
	if eval[bool](again, `!document.querySelector("#accepted-view").hidden`) {
		t.Errorf("a spent token shows as accepted")
	}
	again.extraScreenshot("accept-2-spent-token.png")
	again.checkErrors()

	// An existing account: the wrong password is refused by the password
	// field and opens the existing-account part; its own password joins it.
	var inv2 invited
	in.mustCall("POST", "/api/v1/companies/"+w.b.ID+"/invitations", w.bAdmin.AccessToken,
		map[string]string{"email": "viewer@acme.test", "role": "user"}, 201, &inv2)
	member := newTab(t, ctx, "existing member", true)
	member.do("open the second invitation", chromedp.Navigate(in.url(inv2.AcceptPath)))
	member.waitShown("#token-from-link")
	member.do("enter a wrong password",
		chromedp.SendKeys(chromedp.CSS("#password-input"), "not the right password"),
		chromedp.Click(chromedp.CSS("#accept-submit")))
	member.waitShown(`#accept-form [data-error-for="password"][data-code="invalid_credentials"]`)
	member.waitText("#password-error", "already has an account")
	if !eval[bool](member, `document.querySelector("#existing").open`) {
		t.Errorf("the existing-account part is not opened by invalid_credentials")
	}
	member.do("enter the account's password",
		chromedp.SetValue(chromedp.CSS("#password-input"), passwordOf(auth.RoleViewer)),
		chromedp.Click(chromedp.CSS("#accept-submit")))
	member.waitShown(`#accepted-role[data-role="user"]`)
	member.waitShown(`#accepted-new[data-new-account="false"]`)
	member.waitText("#accepted-company", w.b.ID)
	if eval[bool](member, `!document.querySelector("#totp-card").hidden`) {
		t.Errorf("a user's acceptance shows an authenticator key")
	}
	member.extraScreenshot("accept-3-existing.png")
	member.checkErrors()
}
