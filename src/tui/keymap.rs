//! The one keymap: every binding with its context and help text. Dispatch ([`lookup`]) and the
//! help overlay both read [`KEYMAP`], so what `?` shows is what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Where a binding applies. The app asks [`lookup`] with the contexts active in its state, most
/// specific first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// Everywhere, even while typing a filter.
    Always,
    /// Everywhere except while typing a filter.
    Global,
    /// Browsing layers and the channel grid.
    Browse,
    /// One picture full size, with a cursor.
    Zoom,
    /// Typing a filter after `/`.
    Filter,
    /// While this help is open.
    Help,
    /// Browsing two runs (`featscope compare`).
    Compare,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Always | Context::Global => "Anywhere",
            Context::Browse => "Layers and channels",
            Context::Zoom => "Zoom (after Enter)",
            Context::Filter => "Filter (after /)",
            Context::Help => "This help",
            Context::Compare => "Compare (featscope compare)",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    ToggleHelp,
    CloseHelp,
    HelpDown,
    HelpUp,
    LayerDown,
    LayerUp,
    FirstLayer,
    LastLayer,
    ChannelNext,
    ChannelPrev,
    RowDown,
    RowUp,
    PageDown,
    PageUp,
    FirstChannel,
    LastChannel,
    Zoom,
    Back,
    CycleView,
    NextColormap,
    ToggleNormalization,
    ToggleOrder,
    StartFilter,
    Export,
    CursorLeft,
    CursorRight,
    CursorUp,
    CursorDown,
    CursorLeftFar,
    CursorRightFar,
    CursorUpFar,
    CursorDownFar,
    FilterApply,
    FilterClear,
    FilterBackspace,
    /// Typed characters; has no keys of its own (the app inserts unbound printable keys).
    FilterInput,
    NextDiffering,
    PrevDiffering,
    WorstChannel,
    WorstLocal,
    FirstNonFinite,
    Evidence,
    Filters,
}

/// One key, as a binding names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

impl Key {
    const fn ch(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            modifiers: KeyModifiers::NONE,
        }
    }

    const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            modifiers: KeyModifiers::CONTROL,
        }
    }

    const fn code(code: KeyCode) -> Key {
        Key {
            code,
            modifiers: KeyModifiers::NONE,
        }
    }

    /// Shift is ignored: it is already part of the character ('J'), and terminals differ on
    /// whether they report it. Control and Alt must match, so Ctrl-C is not `c`.
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        let relevant = KeyModifiers::CONTROL | KeyModifiers::ALT;
        self.code == ev.code && (self.modifiers & relevant) == (ev.modifiers & relevant)
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Backspace => "Bksp".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Tab => "Tab".into(),
            other => format!("{other:?}"),
        };
        if self.modifiers.contains(KeyModifiers::CONTROL) {
            format!("Ctrl-{}", base.to_uppercase())
        } else {
            base
        }
    }
}

pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    pub action: Action,
    pub help: &'static str,
}

impl Binding {
    /// The keys as the help shows them ("j ↓"); "text" for typed input.
    pub fn keys_label(&self) -> String {
        if self.keys.is_empty() {
            return "text".into();
        }
        self.keys
            .iter()
            .map(Key::label)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

const fn bind(
    context: Context,
    keys: &'static [Key],
    action: Action,
    help: &'static str,
) -> Binding {
    Binding {
        context,
        keys,
        action,
        help,
    }
}

use Action as A;
use Context as C;

/// Every binding, in the order the help lists them.
#[rustfmt::skip]
pub static KEYMAP: &[Binding] = &[
    // Browse
    bind(C::Browse, &[Key::ch('j'), Key::code(KeyCode::Down)], A::LayerDown, "next layer"),
    bind(C::Browse, &[Key::ch('k'), Key::code(KeyCode::Up)], A::LayerUp, "previous layer"),
    bind(C::Browse, &[Key::ch('g')], A::FirstLayer, "first layer"),
    bind(C::Browse, &[Key::ch('G')], A::LastLayer, "last layer"),
    bind(C::Browse, &[Key::ch('l'), Key::code(KeyCode::Right)], A::ChannelNext, "next channel"),
    bind(C::Browse, &[Key::ch('h'), Key::code(KeyCode::Left)], A::ChannelPrev, "previous channel"),
    bind(C::Browse, &[Key::ch('J')], A::RowDown, "channel one row down"),
    bind(C::Browse, &[Key::ch('K')], A::RowUp, "channel one row up"),
    bind(C::Browse, &[Key::code(KeyCode::PageDown)], A::PageDown, "next page of channels"),
    bind(C::Browse, &[Key::code(KeyCode::PageUp)], A::PageUp, "previous page of channels"),
    bind(C::Browse, &[Key::code(KeyCode::Home)], A::FirstChannel, "first channel"),
    bind(C::Browse, &[Key::code(KeyCode::End)], A::LastChannel, "last channel"),
    bind(C::Browse, &[Key::code(KeyCode::Enter)], A::Zoom, "zoom: the channel (or picture) full size"),
    bind(C::Browse, &[Key::code(KeyCode::Esc)], A::Back, "clear the filter"),
    // Compare
    bind(C::Compare, &[Key::ch(']')], A::NextDiffering, "next differing layer (formats: one that loses by itself)"),
    bind(C::Compare, &[Key::ch('[')], A::PrevDiffering, "previous differing layer (formats: likewise)"),
    bind(C::Compare, &[Key::ch('W')], A::WorstLocal, "the layer that loses most by itself (lowest local SQNR)"),
    bind(C::Compare, &[Key::ch('w')], A::WorstChannel, "the channel where A and B differ most"),
    // Zoom
    bind(C::Zoom, &[Key::ch('h'), Key::code(KeyCode::Left)], A::CursorLeft, "cursor left"),
    bind(C::Zoom, &[Key::ch('l'), Key::code(KeyCode::Right)], A::CursorRight, "cursor right"),
    bind(C::Zoom, &[Key::ch('k'), Key::code(KeyCode::Up)], A::CursorUp, "cursor up"),
    bind(C::Zoom, &[Key::ch('j'), Key::code(KeyCode::Down)], A::CursorDown, "cursor down"),
    bind(C::Zoom, &[Key::ch('H')], A::CursorLeftFar, "cursor 8 left"),
    bind(C::Zoom, &[Key::ch('L')], A::CursorRightFar, "cursor 8 right"),
    bind(C::Zoom, &[Key::ch('K')], A::CursorUpFar, "cursor 8 up"),
    bind(C::Zoom, &[Key::ch('J')], A::CursorDownFar, "cursor 8 down"),
    bind(C::Zoom, &[Key::code(KeyCode::PageDown)], A::ChannelNext, "next channel"),
    bind(C::Zoom, &[Key::code(KeyCode::PageUp)], A::ChannelPrev, "previous channel"),
    bind(C::Zoom, &[Key::code(KeyCode::Esc), Key::code(KeyCode::Enter)], A::Back, "back to the grid"),
    // Anywhere
    bind(C::Global, &[Key::ch('s')], A::CycleView, "cycle grid / sum / overlay / input"),
    bind(C::Global, &[Key::ch('x')], A::Evidence, "where the class came from (again: next class of the top-5)"),
    bind(C::Global, &[Key::ch('f')], A::Filters, "the convolution's kernels (filters)"),
    bind(C::Global, &[Key::ch('!')], A::FirstNonFinite, "the first layer holding NaN or ±Inf (drawn magenta)"),
    bind(C::Global, &[Key::ch('c')], A::NextColormap, "next colormap"),
    bind(C::Global, &[Key::ch('n')], A::ToggleNormalization, "per-channel / per-layer scale"),
    bind(C::Global, &[Key::ch('o')], A::ToggleOrder, "order channels by mean activation"),
    bind(C::Global, &[Key::ch('/')], A::StartFilter, "filter layers by name or op"),
    bind(C::Global, &[Key::ch('e')], A::Export, "export the current view as PNG"),
    bind(C::Global, &[Key::ch('?')], A::ToggleHelp, "show / hide this help"),
    bind(C::Global, &[Key::ch('q')], A::Quit, "quit"),
    bind(C::Always, &[Key::ctrl('c')], A::Quit, "quit"),
    // Filter
    bind(C::Filter, &[], A::FilterInput, "match layer names and ops"),
    bind(C::Filter, &[Key::code(KeyCode::Backspace)], A::FilterBackspace, "delete a character"),
    bind(C::Filter, &[Key::code(KeyCode::Enter)], A::FilterApply, "apply the filter"),
    bind(C::Filter, &[Key::code(KeyCode::Esc)], A::FilterClear, "clear the filter"),
    // Help
    bind(C::Help, &[Key::code(KeyCode::Esc)], A::CloseHelp, "close the help"),
    bind(C::Help, &[Key::ch('j'), Key::code(KeyCode::Down)], A::HelpDown, "scroll down"),
    bind(C::Help, &[Key::ch('k'), Key::code(KeyCode::Up)], A::HelpUp, "scroll up"),
];

/// The action `ev` triggers in the first of `contexts` that binds it. Key releases (reported by
/// terminals with the kitty keyboard protocol) trigger nothing.
pub fn lookup(contexts: &[Context], ev: &KeyEvent) -> Option<Action> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    contexts.iter().find_map(|ctx| {
        KEYMAP
            .iter()
            .filter(|b| b.context == *ctx)
            .find(|b| b.keys.iter().any(|k| k.matches(ev)))
            .map(|b| b.action)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for (i, a) in KEYMAP.iter().enumerate() {
            for b in &KEYMAP[i + 1..] {
                if a.context != b.context {
                    continue;
                }
                for k in a.keys {
                    assert!(
                        !b.keys.contains(k),
                        "{} bound twice in {:?}",
                        k.label(),
                        a.context
                    );
                }
            }
        }
    }

    #[test]
    fn ctrl_c_is_not_c() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE);
        let ctx = [Context::Always, Context::Browse, Context::Global];
        assert_eq!(lookup(&ctx, &ctrl_c), Some(Action::Quit));
        assert_eq!(lookup(&ctx, &c), Some(Action::NextColormap));
    }

    #[test]
    fn shifted_letters_match_with_or_without_the_shift_flag() {
        let ctx = [Context::Browse];
        for mods in [KeyModifiers::NONE, KeyModifiers::SHIFT] {
            let ev = KeyEvent::new(KeyCode::Char('J'), mods);
            assert_eq!(lookup(&ctx, &ev), Some(Action::RowDown));
        }
    }
}
