//! The console's action vocabulary: every action an operator can ask for,
//! by a dotted name shared by the keymaps, the help screen and the `:`
//! command line.

macro_rules! actions {
    ($($variant:ident = $name:literal : $desc:literal,)*) => {
        /// What the operator asked for (keys are mapped to these by the keymap).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $($variant,)* }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The dotted name (`segment.save`).
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name,)* }
            }

            /// One line for the help screen.
            pub fn description(self) -> &'static str {
                match self { $(Action::$variant => $desc,)* }
            }

            pub fn from_name(s: &str) -> Option<Action> {
                match s { $($name => Some(Action::$variant),)* _ => None }
            }
        }
    };
}

actions! {
    Quit = "app.quit": "quit reach",
    Back = "app.back": "back; on a top-level screen, quit",
    Help = "app.help": "show the keys of this screen",
    Command = "app.command": "open the command line (runs reach's commands)",
    Suspend = "app.suspend": "suspend to the shell (fg resumes)",
    Redraw = "app.redraw": "redraw the whole screen",
    Cancel = "app.cancel": "cancel the running job",
    NextScreen = "screen.next": "next screen",
    PrevScreen = "screen.prev": "previous screen",
    Contacts = "screen.contacts": "Contacts screen",
    Tags = "screen.tags": "Tags screen",
    Segments = "screen.segments": "Segments screen",
    Builder = "screen.builder": "Segment builder",
    Campaigns = "screen.campaigns": "Campaigns screen",
    Policy = "screen.policy": "Policy screen",
    Activity = "screen.activity": "Activity (scheduler) screen",
    Journeys = "screen.journeys": "Journeys screen",
    Audit = "screen.audit": "Audit log screen (every change: when, who, how)",
    Up = "cursor.up": "move up",
    Down = "cursor.down": "move down",
    PageUp = "cursor.page_up": "one page up",
    PageDown = "cursor.page_down": "one page down",
    Top = "cursor.top": "to the first row",
    Bottom = "cursor.bottom": "to the last row",
    Left = "cursor.left": "move left (previous column, collapse)",
    Right = "cursor.right": "move right (next column, expand)",
    Open = "list.open": "open the selected item",
    Filter = "list.filter": "filter the list (text or segment expression)",
    Sort = "list.sort": "sort by the selected column",
    SortReverse = "list.sort_reverse": "reverse the sort order",
    New = "list.new": "new segment or campaign",
    Delete = "list.delete": "delete the selected item (asks first)",
    Edit = "list.edit": "edit in $EDITOR (campaign, policy)",
    Refresh = "list.refresh": "reload from the database",
    AddCondition = "builder.add_condition": "add a condition under the selected group",
    AddGroup = "builder.add_group": "add a group under the selected group",
    ToggleOp = "builder.toggle_op": "switch the selected group between AND and OR",
    Negate = "builder.negate": "negate the selected node",
    DeleteNode = "builder.delete": "delete the selected node",
    MoveUp = "builder.move_up": "move the selected node up",
    MoveDown = "builder.move_down": "move the selected node down",
    EditText = "builder.edit_text": "edit the expression as text",
    EditNode = "builder.edit_node": "edit the selected condition",
    Save = "segment.save": "save (the builder asks for a name)",
    Schedule = "campaign.schedule": "schedule the selected campaign (asks first)",
    Pause = "campaign.pause": "pause the selected campaign (asks first)",
    CancelCampaign = "campaign.cancel": "cancel the selected campaign (asks first)",
    StartJourney = "journey.start": "start (or resume) the selected journey (asks first)",
    PauseJourney = "journey.pause": "pause the selected journey (asks first)",
    StopJourney = "journey.stop": "stop the selected journey for good: its runs exit (asks first)",
    KindFilter = "profile.kind": "timeline: show one event kind (cycles)",
    Complete = "text.complete": "complete the word at the cursor",
    Apply = "text.apply": "apply the text",
    Leave = "text.leave": "leave the text field",
    Noop = "noop": "unbound",
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a));
            assert!(seen.insert(a.name()), "{} twice", a.name());
            assert!(a.name() == "noop" || a.name().contains('.'));
        }
    }
}
