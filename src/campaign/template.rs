//! Subject and body templates (minijinja): compiled once per campaign,
//! rendered per contact.
//!
//! - No loader: templates cannot include files.
//! - The email body is HTML-escaped (`{{ x }}` of `<b>` gives `&lt;b&gt;`;
//!   `{{ x | safe }}` opts out); subjects and SMS/push bodies are plain text.
//! - Undefined fields render empty, even nested ones (chainable), so `default("cliente")` works
//!   and a missing attribute never fails a send.
//! - Context: every attribute by name (text as written by `reach export`,
//!   booleans as booleans), `id`, `email`, `external_id`, `timezone`,
//!   `score`, `unsubscribe_url`; `recent.KIND`, the contact's latest
//!   events of a kind (see [`super::recent`]); in journeys, `promo_code`,
//!   `promo_percent` and `promo_valid_until`.

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use super::channel::Channel;
use crate::error::{Error, Result};
use crate::model::{AttrValue, Contact, Schema};

/// Where unsubscribe links point (`{base}/{campaign}/{contact id}`).
pub const UNSUBSCRIBE_BASE: &str = "https://unsubscribe.invalid";

/// The compiled templates of one campaign.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles subject and body; a syntax error is an input error naming
    /// the field and line.
    pub fn compile(channel: Channel, subject: &str, body: &str) -> Result<Templates> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        let html = channel == Channel::Email;
        env.set_auto_escape_callback(
            move |name| if html && name == "body" { AutoEscape::Html } else { AutoEscape::None },
        );
        for (name, src) in [("subject", subject), ("body", body)] {
            env.add_template_owned(name.to_string(), src.to_string()).map_err(|e| {
                Error::input(format!(
                    "{name} template does not compile: {} (line {})",
                    e.detail().unwrap_or("syntax error"),
                    e.line().unwrap_or(1)
                ))
            })?;
        }
        Ok(Templates { env })
    }

    /// The event kinds the templates read through `recent.KIND`.
    pub fn recent_kinds(&self) -> Vec<String> {
        let mut out: Vec<String> = ["subject", "body"]
            .iter()
            .filter_map(|n| self.env.get_template(n).ok())
            .flat_map(|t| t.undeclared_variables(true))
            .filter_map(|v| v.strip_prefix("recent.").map(|k| k.split('.').next().unwrap_or(k).to_string()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Renders (subject, body) for one contact. Render errors (e.g. a
    /// filter applied to the wrong type) are returned, not panics.
    pub fn render(&self, ctx: &Value) -> Result<(String, String)> {
        let r = |name: &str| -> Result<String> {
            self.env
                .get_template(name)
                .and_then(|t| t.render(ctx))
                .map_err(|e| Error::runtime(format!("{name} template: {e}")))
        };
        Ok((r("subject")?, r("body")?))
    }
}

/// The template context of a contact.
pub fn context(schema: &Schema, c: &Contact, campaign: &str) -> Value {
    let mut m: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    for (idx, v) in &c.attrs {
        if let Some(def) = schema.attributes.get(*idx as usize) {
            let val = match v {
                AttrValue::Bool(b) => Value::from(*b),
                other => Value::from(def.format(other)),
            };
            m.insert(def.name.clone(), val);
        }
    }
    m.insert("id".into(), Value::from(c.id));
    if let Some(e) = &c.email {
        m.insert("email".into(), Value::from(e.as_str()));
    }
    if let Some(x) = &c.external_id {
        m.insert("external_id".into(), Value::from(x.as_str()));
    }
    if let Some(z) = &c.timezone {
        m.insert("timezone".into(), Value::from(z.as_str()));
    }
    m.insert("score".into(), Value::from(c.score));
    // a URL we build: not escaped in HTML bodies
    m.insert("unsubscribe_url".into(), Value::from_safe_string(format!("{UNSUBSCRIBE_BASE}/{campaign}/{}", c.id)));
    Value::from(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_escaping_and_unsubscribe() {
        let t = Templates::compile(
            Channel::Email,
            "Ciao {{ first_name | default(\"cliente\") }}",
            "<p>{{ city }}{{ nothing.deeper }}</p><a href=\"{{ unsubscribe_url }}\">x</a>",
        )
        .unwrap();
        let schema = Schema::default();
        let (ci, _) = schema.attr("city").unwrap();
        let mut c = Contact { id: 7, ..Default::default() };
        c.set_attr(ci, Some(AttrValue::Text("<Roma>".into())));
        let (s, b) = t.render(&context(&schema, &c, "x")).unwrap();
        assert_eq!(s, "Ciao cliente");
        assert_eq!(b, "<p>&lt;Roma&gt;</p><a href=\"https://unsubscribe.invalid/x/7\">x</a>");
    }

    #[test]
    fn the_kinds_read_through_recent_are_found() {
        let t = Templates::compile(
            Channel::Email,
            "{{ recent.purchase[0].amount }}",
            "{% for v in recent.page_view %}{{ v.product }}{% endfor %}{{ recent.page_view | length }}{{ first_name }}",
        )
        .unwrap();
        assert_eq!(t.recent_kinds(), ["page_view", "purchase"]);
        let plain = Templates::compile(Channel::Email, "Hi", "{{ first_name }}").unwrap();
        assert!(plain.recent_kinds().is_empty());
    }

    #[test]
    fn a_template_that_does_not_compile_is_an_input_error() {
        let e = Templates::compile(Channel::Sms, "ok", "Hi {{ first_name ").err().unwrap();
        assert!(e.message.starts_with("body template does not compile"), "{}", e.message);
        assert_eq!(e.exit_code(), 2);
    }
}
