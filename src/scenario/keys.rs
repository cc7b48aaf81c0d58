//! Key names (`enter`, `ctrl+l`, `alt+F2`) and text → X keysyms (values from
//! X11's keysymdef.h). Pure: no I/O.

/// Shift_L.
pub const SHIFT: u32 = 0xffe1;
pub const CONTROL: u32 = 0xffe3;
pub const ALT: u32 = 0xffe9;
pub const SUPER: u32 = 0xffeb;
pub const RETURN: u32 = 0xff0d;
pub const TAB: u32 = 0xff09;

/// Named keys, lower case. Single characters are handled apart.
const NAMES: &[(&str, u32)] = &[
    ("enter", RETURN),
    ("return", RETURN),
    ("tab", TAB),
    ("esc", 0xff1b),
    ("escape", 0xff1b),
    ("backspace", 0xff08),
    ("delete", 0xffff),
    ("del", 0xffff),
    ("insert", 0xff63),
    ("ins", 0xff63),
    ("home", 0xff50),
    ("end", 0xff57),
    ("pageup", 0xff55),
    ("page_up", 0xff55),
    ("pgup", 0xff55),
    ("pagedown", 0xff56),
    ("page_down", 0xff56),
    ("pgdn", 0xff56),
    ("left", 0xff51),
    ("up", 0xff52),
    ("right", 0xff53),
    ("down", 0xff54),
    ("space", 0x20),
    ("plus", 0x2b),
    ("minus", 0x2d),
    ("menu", 0xff67),
    ("print", 0xff61),
    ("printscreen", 0xff61),
    ("pause", 0xff13),
    ("capslock", 0xffe5),
    ("numlock", 0xff7f),
    ("scrolllock", 0xff14),
    // Modifiers.
    ("ctrl", CONTROL),
    ("control", CONTROL),
    ("ctrl_r", 0xffe4),
    ("shift", SHIFT),
    ("shift_r", 0xffe2),
    ("alt", ALT),
    ("alt_r", 0xffea),
    ("altgr", 0xfe03),
    ("super", SUPER),
    ("win", SUPER),
    ("windows", SUPER),
    ("meta", SUPER),
    ("cmd", SUPER),
    ("super_r", 0xffec),
];

/// Modifier keysyms: Shift, Control, Caps/Shift lock, Meta, Alt, Super,
/// Hyper, ISO_Level3_Shift (AltGr).
pub fn is_modifier(keysym: u32) -> bool {
    matches!(keysym, 0xffe1..=0xffee | 0xfe03)
}

/// A parsed key combination: modifiers in the order written, then the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Combo {
    /// Every key in order; all but the last are modifiers.
    pub keysyms: Vec<u32>,
}

/// One key name or a single character, case-insensitive, to its keysym.
pub fn key_name(name: &str) -> Option<u32> {
    let lower = name.to_ascii_lowercase();
    if let Some(&(_, k)) = NAMES.iter().find(|(n, _)| *n == lower) {
        return Some(k);
    }
    // F1..F35: F1 is 0xffbe, the rest follow.
    if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u32>().ok()) {
        if (1..=35).contains(&n) && !lower[1..].starts_with('0') {
            return Some(0xffbe + n - 1);
        }
        return None;
    }
    let mut chars = lower.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return None;
    };
    // Letters are case-insensitive here: `ctrl+L` is `ctrl+l`; `shift+a` types `A`.
    char_keysym(c)
}

/// Parses `ctrl+l`, `Ctrl-Alt-Delete`, `alt+F2`, `F11`, `ctrl++` (a literal
/// `+`), `-`. Keys are separated by `+` or `-`; where a key is expected, a
/// `+` or `-` is that key itself.
pub fn parse_combo(text: &str) -> Result<Combo, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("the key is empty".into());
    }
    let mut parts: Vec<&str> = Vec::new();
    let mut rest = t;
    loop {
        // A key: a separator character standing where a key belongs, or a
        // run of other characters.
        let len = match rest.chars().next() {
            Some(c @ ('+' | '-')) => c.len_utf8(),
            Some(_) => rest.find(['+', '-']).unwrap_or(rest.len()),
            None => return Err(format!("{t:?} ends with a separator; name the last key")),
        };
        let (part, after) = rest.split_at(len);
        let part = part.trim();
        if part.is_empty() {
            return Err(format!("{t:?} has an empty key name"));
        }
        parts.push(part);
        match after.chars().next() {
            None => break,
            Some('+' | '-') => rest = &after[1..],
            Some(_) => return Err(format!("{t:?}: expected + or - after {part:?}")),
        }
        rest = rest.trim_start();
    }
    let mut keysyms = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let k = key_name(part).ok_or_else(|| {
            format!(
                "unknown key {part:?} in {t:?}; use a single character or one of: {}, f1..f35",
                known_names()
            )
        })?;
        if i + 1 < parts.len() && !is_modifier(k) {
            return Err(format!(
                "{part:?} in {t:?} is not a modifier; only the last key of a combination may be \
                 another key (modifiers: ctrl, shift, alt, altgr, super)"
            ));
        }
        keysyms.push(k);
    }
    if let [mods @ .., last] = keysyms.as_mut_slice()
        && mods.iter().any(|&m| m == SHIFT || m == 0xffe2)
    {
        *last = shifted_us(*last);
    }
    Ok(Combo { keysyms })
}

/// The key names `parse_combo` knows, for error messages.
pub fn known_names() -> String {
    NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// The keysym that types character `c`: ASCII printable and Latin-1 are
/// their code point, `\n` Return, `\t` Tab, other Unicode 0x0100_0000 + code
/// point. None for control characters.
pub fn char_keysym(c: char) -> Option<u32> {
    let cp = u32::from(c);
    match c {
        '\n' => Some(RETURN),
        '\t' => Some(TAB),
        _ if c.is_control() => None,
        ' '..='~' | '\u{a0}'..='\u{ff}' => Some(cp),
        _ => Some(0x0100_0000 + cp),
    }
}

/// The keysym a US keyboard gives for key `k` with Shift held: `a` → `A`,
/// `1` → `!`, `tab` → ISO_Left_Tab; other keys unchanged. x11vnc sends the
/// exact keysym asked for, releasing a held Shift for an unshifted one
/// (Shift + `Tab` arrives as plain Tab), so a combo with Shift sends the
/// shifted keysym.
pub fn shifted_us(k: u32) -> u32 {
    const PAIRS: &[(u8, u8)] = &[
        (b'1', b'!'),
        (b'2', b'@'),
        (b'3', b'#'),
        (b'4', b'$'),
        (b'5', b'%'),
        (b'6', b'^'),
        (b'7', b'&'),
        (b'8', b'*'),
        (b'9', b'('),
        (b'0', b')'),
        (b'-', b'_'),
        (b'=', b'+'),
        (b'[', b'{'),
        (b']', b'}'),
        (b'\\', b'|'),
        (b';', b':'),
        (b'\'', b'"'),
        (b',', b'<'),
        (b'.', b'>'),
        (b'/', b'?'),
        (b'`', b'~'),
    ];
    match k {
        0x61..=0x7a => k - 0x20,
        TAB => 0xfe20,
        _ => PAIRS
            .iter()
            .find(|(a, _)| u32::from(*a) == k)
            .map_or(k, |(_, b)| u32::from(*b)),
    }
}

/// Whether a US keyboard needs Shift for `c` (upper case and the shifted
/// symbols `~!@#$%^&*()_+{}|:"<>?`).
pub fn shifted_on_us(c: char) -> bool {
    c.is_ascii_uppercase() || "~!@#$%^&*()_+{}|:\"<>?".contains(c)
}

/// Text to keysyms; the error names the first character that has none.
pub fn text_keysyms(text: &str) -> Result<Vec<u32>, String> {
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            char_keysym(c).ok_or_else(|| {
                format!(
                    "character {} ({:?}, U+{:04X}) cannot be typed; use \\n, \\t or printable text",
                    i + 1,
                    c,
                    u32::from(c)
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ks(t: &str) -> Vec<u32> {
        parse_combo(t)
            .unwrap_or_else(|e| panic!("{t}: {e}"))
            .keysyms
    }

    #[test]
    fn names_and_combos() {
        assert_eq!(ks("enter"), [RETURN]);
        assert_eq!(ks("Return"), [RETURN]);
        assert_eq!(ks("ctrl+l"), [CONTROL, 0x6c]);
        assert_eq!(ks("Ctrl+L"), [CONTROL, 0x6c]);
        assert_eq!(ks("Ctrl-Alt-Delete"), [CONTROL, ALT, 0xffff]);
        assert_eq!(ks("alt+F2"), [ALT, 0xffbf]);
        assert_eq!(ks("F11"), [0xffc8]);
        assert_eq!(ks("f1"), [0xffbe]);
        assert_eq!(ks("esc"), [0xff1b]);
        assert_eq!(ks("tab"), [TAB]);
        assert_eq!(ks("backspace"), [0xff08]);
        assert_eq!(ks("left"), [0xff51]);
        assert_eq!(ks("up"), [0xff52]);
        assert_eq!(ks("right"), [0xff53]);
        assert_eq!(ks("down"), [0xff54]);
        assert_eq!(ks("home"), [0xff50]);
        assert_eq!(ks("end"), [0xff57]);
        assert_eq!(ks("PageUp"), [0xff55]);
        assert_eq!(ks("pagedown"), [0xff56]);
        assert_eq!(ks("insert"), [0xff63]);
        assert_eq!(ks("space"), [0x20]);
        assert_eq!(ks("super+e"), [SUPER, 0x65]);
        assert_eq!(ks("win"), [SUPER]);
        assert_eq!(ks("meta"), [SUPER]);
        assert_eq!(ks("shift"), [SHIFT]);
        assert_eq!(ks("shift+tab"), [SHIFT, 0xfe20]);
        assert_eq!(ks(" ctrl + shift + t "), [CONTROL, SHIFT, 0x54]);
        assert_eq!(ks("shift+1"), [SHIFT, 0x21]);
        assert_eq!(ks("shift+F3"), [SHIFT, 0xffc0]);
        assert_eq!(ks("shift"), [SHIFT]);
    }

    #[test]
    fn literal_plus_and_minus() {
        assert_eq!(ks("+"), [0x2b]);
        assert_eq!(ks("-"), [0x2d]);
        assert_eq!(ks("ctrl++"), [CONTROL, 0x2b]);
        assert_eq!(ks("ctrl+-"), [CONTROL, 0x2d]);
        assert_eq!(ks("ctrl--"), [CONTROL, 0x2d]);
        assert_eq!(ks("ctrl+plus"), [CONTROL, 0x2b]);
        assert_eq!(ks("ctrl+minus"), [CONTROL, 0x2d]);
        assert_eq!(ks("5"), [0x35]);
        assert_eq!(ks("~"), [0x7e]);
    }

    #[test]
    fn bad_combos_say_why() {
        let e = |t: &str| parse_combo(t).unwrap_err();
        assert_eq!(e(""), "the key is empty");
        assert_eq!(
            e("ctrl+"),
            "\"ctrl+\" ends with a separator; name the last key"
        );
        assert!(e("ctrl+foo").starts_with("unknown key \"foo\" in \"ctrl+foo\"; use a single"));
        assert!(e("ctrl+foo").contains("enter, return"));
        assert!(e("a+b").starts_with("\"a\" in \"a+b\" is not a modifier"));
        assert!(e("F0").starts_with("unknown key \"F0\""));
        assert!(e("F36").starts_with("unknown key \"F36\""));
        assert!(e("F01").starts_with("unknown key \"F01\""));
        assert_eq!(e("-x"), "\"-x\": expected + or - after \"-\"");
    }

    #[test]
    fn text_to_keysyms() {
        assert_eq!(text_keysyms("aZ~ ").unwrap(), [0x61, 0x5a, 0x7e, 0x20]);
        assert_eq!(text_keysyms("a\nb\t").unwrap(), [0x61, RETURN, 0x62, TAB]);
        assert_eq!(text_keysyms("é€").unwrap(), [0xe9, 0x0100_20ac]);
        assert_eq!(text_keysyms("ü").unwrap(), [0xfc]);
        assert_eq!(
            text_keysyms("ab\u{7}").unwrap_err(),
            "character 3 ('\\u{7}', U+0007) cannot be typed; use \\n, \\t or printable text"
        );
        for c in '!'..='~' {
            assert_eq!(
                shifted_on_us(c),
                "~!@#$%^&*()_+{}|:\"<>?".contains(c) || c.is_ascii_uppercase()
            );
        }
        assert!(!shifted_on_us('a') && !shifted_on_us('1') && !shifted_on_us('['));
    }
}
