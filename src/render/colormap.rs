//! Colormaps as 256-entry lookup tables built from `colorous` (the matplotlib / d3 maps).

use std::sync::OnceLock;

/// Colours per map. Three short of 256 so that a map, the grid's background, its label colour
/// and the colour of values that are not numbers fit one 8-bit PNG palette (a third of the
/// bytes of RGB to paint, compress and write); the missing levels are invisible.
pub const LEVELS: usize = 253;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Colormap {
    /// matplotlib's default.
    #[default]
    Viridis,
    Magma,
    Inferno,
    Plasma,
    /// Black (low) to white (high).
    Gray,
    Turbo,
    /// Diverging, blue (low) through white to red (high): for signed values around 0, such as
    /// the difference of two runs.
    #[serde(rename = "rdbu")]
    RdBu,
}

impl Colormap {
    pub const ALL: [Colormap; 7] = [
        Colormap::Viridis,
        Colormap::Magma,
        Colormap::Inferno,
        Colormap::Plasma,
        Colormap::Gray,
        Colormap::Turbo,
        Colormap::RdBu,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Colormap::Viridis => "viridis",
            Colormap::Magma => "magma",
            Colormap::Inferno => "inferno",
            Colormap::Plasma => "plasma",
            Colormap::Gray => "gray",
            Colormap::Turbo => "turbo",
            Colormap::RdBu => "rdbu",
        }
    }

    /// The next colormap in [`Colormap::ALL`], wrapping around.
    pub fn next(self) -> Colormap {
        let i = Colormap::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Colormap::ALL[(i + 1) % Colormap::ALL.len()]
    }

    /// [`LEVELS`] RGB colours, low to high.
    pub fn lut(self) -> &'static [[u8; 3]; LEVELS] {
        static LUTS: OnceLock<Vec<[[u8; 3]; LEVELS]>> = OnceLock::new();
        let luts = LUTS.get_or_init(|| {
            Colormap::ALL
                .iter()
                .map(|c| {
                    let mut lut = [[0u8; 3]; LEVELS];
                    for (i, entry) in lut.iter_mut().enumerate() {
                        let color = match c {
                            Colormap::Viridis => colorous::VIRIDIS.eval_rational(i, LEVELS),
                            Colormap::Magma => colorous::MAGMA.eval_rational(i, LEVELS),
                            Colormap::Inferno => colorous::INFERNO.eval_rational(i, LEVELS),
                            Colormap::Plasma => colorous::PLASMA.eval_rational(i, LEVELS),
                            // colorous' GREYS runs white → black; reversed so high is bright.
                            Colormap::Gray => colorous::GREYS.eval_rational(LEVELS - 1 - i, LEVELS),
                            Colormap::Turbo => colorous::TURBO.eval_rational(i, LEVELS),
                            // colorous' RED_BLUE runs red → blue; reversed so high is red.
                            Colormap::RdBu => {
                                colorous::RED_BLUE.eval_rational(LEVELS - 1 - i, LEVELS)
                            }
                        };
                        *entry = [color.r, color.g, color.b];
                    }
                    lut
                })
                .collect()
        });
        let i = Colormap::ALL.iter().position(|c| *c == self).unwrap_or(0);
        &luts[i]
    }

    /// The colour of `t` in 0..=1 (clamped; NaN maps to the low end).
    pub fn color(self, t: f32) -> [u8; 3] {
        self.lut()[level(t)]
    }
}

/// 0..=1 → LUT index, quantised as matplotlib quantises its maps.
#[inline]
pub fn level(t: f32) -> usize {
    // `as` saturates and maps NaN to 0, so no branch is needed.
    ((t * LEVELS as f32) as i32).clamp(0, LEVELS as i32 - 1) as usize
}
