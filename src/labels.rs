//! Bounded label vocabularies. Each is a fieldless enum declared once, with the label string
//! of every variant, by `label_enum!`: `label()`, `index()`, `ALL`, `COUNT` and `LABELS`
//! all follow from that one list, so counter arrays are sized by `COUNT` and rendered by
//! zipping with `ALL`; no list of labels or literal array size is kept in step by hand.

/// Declares `enum Name { Variant = "label", ... }` with its label table.
macro_rules! label_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $label:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        #[allow(dead_code)]
        impl $name {
            /// Every variant, in declaration order (`ALL[i].index() == i`).
            pub const ALL: [$name; [$($label),+].len()] = [$($name::$variant),+];
            /// The number of variants: the length of arrays indexed by `index()`.
            pub const COUNT: usize = Self::ALL.len();
            /// The label of every variant, in declaration order.
            pub const LABELS: [&'static str; Self::COUNT] = [$($label),+];

            /// The label value (metric label, log word) of this variant.
            #[inline]
            pub const fn label(self) -> &'static str {
                Self::LABELS[self as usize]
            }

            /// Position in [`Self::ALL`]: the index into arrays of `COUNT` entries.
            #[inline]
            pub const fn index(self) -> usize {
                self as usize
            }
        }
    };
}

pub(crate) use label_enum;

label_enum! {
    /// Which listener a socket group, a worker and its metrics belong to: the `listener` label,
    /// the TOML section and the state file prefix. Both detect the protocol per datagram; they
    /// differ in defaults, flags and the GoFlow kind of an undecodable datagram.
    pub enum ListenerKind {
        /// NetFlow v5/v9 and IPFIX, :2055 by default.
        Netflow = "netflow",
        /// sFlow v5, :6343 by default.
        Sflow = "sflow",
    }
}

impl ListenerKind {
    /// The UDP port GoFlow listens on for this kind.
    pub fn default_port(self) -> u16 {
        match self {
            ListenerKind::Netflow => 2055,
            ListenerKind::Sflow => 6343,
        }
    }

    /// The short name in thread names (`cf-nf-0`).
    pub fn short(self) -> &'static str {
        match self {
            ListenerKind::Netflow => "nf",
            ListenerKind::Sflow => "sf",
        }
    }
}

#[cfg(test)]
mod tests {
    label_enum! {
        enum Colour {
            Red = "red",
            Green = "green",
        }
    }

    #[test]
    fn tables_follow_the_declaration() {
        assert_eq!(Colour::COUNT, 2);
        assert_eq!(Colour::LABELS, ["red", "green"]);
        for (i, c) in Colour::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
            assert_eq!(c.label(), Colour::LABELS[i]);
        }
    }
}
