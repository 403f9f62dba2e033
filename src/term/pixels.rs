//! A picture's pixels as terminal colours: truecolor, or the 256-colour palette dithered.
//! Worked out once per picture, drawn (or printed) as half-blocks.

use super::ansi256;
use image::RgbImage;
use ratatui::style::Color;

/// How many colours the terminal shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Colours {
    /// 24-bit RGB.
    True,
    /// The 240 fixed colours of the 256-colour palette, dithered.
    Palette256,
}

/// A picture's pixels as terminal colours, worked out once (dithering included) and drawn
/// every frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Pixels {
    pub width: usize,
    pub height: usize,
    /// Row-major.
    pub colours: Vec<Color>,
}

impl Pixels {
    pub fn new(image: &RgbImage, colours: Colours) -> Pixels {
        let (width, height) = (image.width() as usize, image.height() as usize);
        let raw = image.as_raw();
        let colours = match colours {
            Colours::True => raw
                .chunks_exact(3)
                .map(|p| Color::Rgb(p[0], p[1], p[2]))
                .collect(),
            Colours::Palette256 => ansi256::dither(raw, width)
                .into_iter()
                .map(Color::Indexed)
                .collect(),
        };
        Pixels {
            width,
            height,
            colours,
        }
    }
}
