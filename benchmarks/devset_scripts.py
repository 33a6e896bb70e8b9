"""What the synthetic dev-set episodes say: one script per episode, written for this dev set.

A script is a list of lines ``"NAME<mark>: text"`` and music cues ``"~music SECONDS"``.
The mark after the name says where the line starts (see ``devset.layout``):

* none: after a pause (drawn from the episode's seeded generator) after the previous line;
* ``>``: overlapping the end of the previous line by 0.3-1.0 s;
* ``^``: a backchannel, starting 0.3-0.6 s before the previous line ends;
* ``+``: the same speaker carrying on 0.15-0.35 s after the end of their own line before the backchannel.

The text is the reference, word for word; ``TTS_SPELLING`` maps written forms to what the engines should say.
"""
from __future__ import annotations

OUTRO = ("Thanks for listening to this short test, and remember to check the show notes for links to "
         "everything we talked about today.")

MUSIC_OUTRO = [
    "~music 18",
    "HOST: Hello and welcome to Signal and Noise, the show about the tools we use every day. "
    "I'm your host, and with me as always is my co-host.",
    "COHOST: Hi everyone. It's good to be back after the long weekend.",
    "HOST: Today we have three stories. First, a look at how small teams keep their servers patched. "
    "Second, why everybody suddenly wants to run their own mail again. "
    "And third, a listener question about backups.",
    "COHOST: Let's start with patching, because I think that's where most people get hurt.",
    "~music 8",
    "HOST: So the first story comes from a small company that runs about forty machines. "
    "They used to log in to each machine by hand every month and run the updates themselves.",
    "COHOST: Which works until somebody goes on holiday.",
    "HOST: Exactly. They moved to automatic security updates, with a weekly report that lists "
    "what changed on every machine, and a rule that any reboot happens on Tuesday morning.",
    "COHOST: Why Tuesday?",
    "HOST: Because Monday is for the problems that came up over the weekend, and by Friday "
    "nobody wants to touch anything.",
    "COHOST: That sounds like a lesson learned the hard way.",
    "~music 7",
    "COHOST: Our second story is about mail. A few years ago everyone moved their mail to the big "
    "providers, and now some people are moving back.",
    "HOST: I have to admit I never understood why anyone would run a mail server at home.",
    "COHOST: Mostly privacy, and a bit of stubbornness. The hard part is not the software, it is "
    "getting the big providers to trust the messages you send.",
    "HOST: So the advice is to start with a domain you already own and to be patient.",
    "~music 8",
    "HOST: Finally, a listener asked how often she should test her backups.",
    "COHOST: My answer is simple. A backup that you have never restored is only a hope. Pick one "
    "file every month and bring it back from the backup, and once a year restore a whole machine.",
    "HOST: That's a good rule. That's all we have time for this week.",
    "~music 20",
    f"HOST: {OUTRO}",
    "~music 4",
]

CROSSTALK = [
    "ANNA: Okay, we're recording. So the plan today is to go through the results from the field "
    "study, and then decide what goes into the report.",
    "BEN: Sounds good. I have the numbers from the second site if we need them.",
    "ANNA: Great. So at the first site we visited twelve households, and in most of them the "
    "heating was set much higher than people thought.",
    "CARL^: Yeah.",
    "ANNA+: Some of them had never looked at the thermostat at all, they just left it where the "
    "installer put it.",
    "CARL>: That matches what we saw at the second site. People don't touch it.",
    "BEN: Not quite, though. At the second site about half of them had changed the schedule, but "
    "they had changed it in the wrong direction.",
    "ANNA^: Right.",
    "BEN+: They turned the heating up in the morning and forgot to turn it down again at night.",
    "CARL: So what do we recommend? A simpler display, or a reminder of some kind?",
    "ANNA>: I think a reminder. A display alone won't change anything.",
    "BEN: I'm not so sure. The reminders in the pilot were ignored after two weeks.",
    "CARL^: Mm-hmm.",
    "BEN+: People dismissed them without reading them, just like the messages on their phones.",
    "ANNA: Fair point. Then maybe the report should say that neither works on its own.",
    "CARL>: Can I add something here? The households that saved the most energy were the ones "
    "where somebody had a reason to care, like a new baby or a big bill.",
    "BEN^: Yeah.",
    "CARL+: So it's less about the device and more about the moment when people pay attention.",
    "ANNA: That's a nice way to put it. Let's use that as the main finding.",
    "BEN: Agreed. I'll write the section about the second site tonight and send it to both of you.",
    "ANNA: Thanks. Carl, can you check the numbers in the first table?",
    "CARL: Sure, I can do that tomorrow morning.",
    "ANNA^: Great.",
    "CARL+: I'll also add the two households we visited twice, because their readings changed a lot.",
    "BEN>: Oh, good catch. I'd forgotten about those.",
    "ANNA: One more thing before we stop. The budget for the third site is still open.",
    "BEN: How much is left?",
    "ANNA: Enough for about eight more visits, if we keep the travel costs down.",
    "CARL>: We could combine the visits with the interviews in the same town.",
    "BEN: That would save two days of driving, at least.",
    "ANNA^: Yeah.",
    "BEN+: And the families there already know us from the survey, so they might say yes more easily.",
    "CARL: I can call the coordinator on Thursday and ask which weeks would work for them.",
    "ANNA: Please do. And ask whether they can lend us the meters again, because ours are still at the "
    "second site.",
    "CARL: Will do. Should we also plan a short follow up call with the households from the pilot?",
    "BEN>: I'd rather wait until the report is finished. Otherwise we'll be asking them the same "
    "questions twice.",
    "CARL^: Right.",
    "BEN+: Let's schedule it for next month instead, when we have something to show them.",
    "ANNA: Good, that settles it. I'll update the plan and share it with both of you this afternoon.",
    "ANNA: Then I think we're done for today. Same time next week?",
    "BEN: Same time next week.",
    "CARL>: See you then.",
]

NAMES_JARGON = [
    "BRIAN: Welcome back to the show. I'm Brian Ducharme, and my guest today is Jeff Dike, who "
    "wrote User-Mode Linux, or UML for short.",
    "JEFF: Thanks for having me, Brian.",
    "BRIAN: A lot of our listeners know UML from Linode, which built its first hosting business on "
    "it. How does UML compare with Xen and with KVM?",
    "JEFF: UML runs the kernel as an ordinary process, so it needs nothing special from the host. "
    "Xen is a hypervisor that sits underneath the guests, and KVM turns the Linux kernel itself into "
    "a hypervisor with help from the processor.",
    "BRIAN: And today a lot of people would just reach for Docker or Kubernetes instead.",
    "JEFF: Right, containers share the host kernel, so they start faster but they isolate less. "
    "Kubernetes then schedules those containers across a cluster of machines.",
    "BRIAN: Christopher Aker told me Linode moved from UML to Xen and later to KVM.",
    "JEFF: That's right, and I think that was the sensible path for them.",
    "BRIAN: Let's talk about databases for a minute. Most of the hosted applications I see run "
    "PostgreSQL or MySQL, with Redis in front of them as a cache.",
    "JEFF: PostgreSQL has become the default choice for new projects. People like its JSON support, "
    "and extensions like PostGIS for maps.",
    "BRIAN: And for the web tier, it's nginx or Apache, usually behind a load balancer.",
    "JEFF: Often with Terraform or Ansible describing the whole setup, so it can be rebuilt from scratch.",
    "BRIAN: Security comes up in every conversation I have about hosting. What changed there?",
    "JEFF: Mostly the tooling. People scan their container images with tools like Trivy, they sign "
    "them, and they keep secrets in HashiCorp Vault instead of in environment files.",
    "BRIAN: And what about monitoring?",
    "JEFF: Prometheus collects the metrics and Grafana draws the dashboards. When something breaks "
    "at three in the morning, PagerDuty wakes somebody up.",
    "BRIAN: I remember when monitoring meant Nagios sending an email that nobody read.",
    "JEFF: Nagios is still running in a surprising number of places. It works, so nobody replaces it.",
    "BRIAN: Let's go back to the kernel for a moment. Linus Torvalds merged UML into the mainline "
    "kernel back in two thousand and two, didn't he?",
    "JEFF: That's right, in the two point five development series. Before that, people had to apply "
    "my patches themselves.",
    "BRIAN: Before we finish, what are you working on now?",
    "JEFF: I've been reading the RISC-V specification and playing with QEMU, which can emulate "
    "those boards on an ordinary laptop.",
    "BRIAN: Jeff Dike, thank you very much.",
    "JEFF: Thank you, Brian. It was a pleasure.",
]

NAMES_JARGON_VOCAB = ("Brian Ducharme, Jeff Dike, Christopher Aker, User-Mode Linux, UML, Linode, Xen, KVM, "
                      "Docker, Kubernetes, PostgreSQL, MySQL, Redis, PostGIS, nginx, Apache, Terraform, "
                      "Ansible, RISC-V, QEMU, JSON, Trivy, HashiCorp Vault, Prometheus, Grafana, PagerDuty, Nagios, "
                      "Linus Torvalds")

QUIET_SPEAKER = [
    "MARIA: Good evening, and welcome to the gardening hour. Tonight my guest is going to tell us "
    "about growing tomatoes on a balcony.",
    "TOM: Thank you. It's really much easier than people think, as long as the plants get enough sun.",
    "MARIA: How much sun do they need?",
    "TOM: At least six hours a day. A balcony that faces south is ideal, but east or west will "
    "also work if you choose smaller varieties.",
    "MARIA: And what about the pots?",
    "TOM: Bigger is better. A plant in a small pot dries out in a single afternoon in the summer, "
    "so I use pots that hold at least twenty litres of soil.",
    "MARIA: Do you water them every day?",
    "TOM: In July, twice a day, early in the morning and again in the evening. Never in the midday heat.",
    "MARIA: That's very helpful. What is the most common mistake?",
    "TOM: Too much fertiliser. People feed the plants every week and get huge leaves but very few fruits.",
    "MARIA: And when do you plant them out?",
    "TOM: Not before the middle of May. Tomatoes hate cold nights, and one frost is enough to lose "
    "the whole plant, so I keep them inside by the window until then.",
    "MARIA: Which varieties would you recommend for a beginner?",
    "TOM: Cherry tomatoes. They are forgiving, they ripen early, and children love to pick them "
    "straight from the plant. If you have more space, try a bush variety that does not need tying up.",
    "MARIA: Do they need any support at all?",
    "TOM: The tall ones do. A simple bamboo cane and some soft string will do the job, and you tie "
    "the stem loosely every week as it grows.",
    "MARIA: Thank you, that was the gardening hour.",
]
QUIET_SPEAKER_NAME = "TOM"  # this voice is mixed QUIET_DB lower than the other

POEM = [  # Robert Frost, "Stopping by Woods on a Snowy Evening" (1923; public domain in the US since 2019)
    "READER: Stopping by Woods on a Snowy Evening, by Robert Frost.",
    "READER: Whose woods these are I think I know. His house is in the village though; "
    "He will not see me stopping here to watch his woods fill up with snow.",
    "READER: My little horse must think it queer to stop without a farmhouse near "
    "Between the woods and frozen lake the darkest evening of the year.",
    "READER: He gives his harness bells a shake to ask if there is some mistake. "
    "The only other sound's the sweep of easy wind and downy flake.",
    "READER: The woods are lovely, dark and deep, but I have promises to keep, "
    "and miles to go before I sleep, and miles to go before I sleep.",
]

PROSE = [  # Jane Austen, "Sense and Sensibility", chapter 1 (1811; public domain)
    "NARRATOR: The family of Dashwood had long been settled in Sussex. Their estate was large, and "
    "their residence was at Norland Park, in the centre of their property, where, for many "
    "generations, they had lived in so respectable a manner as to engage the general good opinion "
    "of their surrounding acquaintance.",
    "NARRATOR: The late owner of this estate was a single man, who lived to a very advanced age, "
    "and who for many years of his life had a constant companion and housekeeper in his sister.",
    "NARRATOR: But her death, which happened ten years before his own, produced a great alteration "
    "in his home; for to supply her loss, he invited and received into his house the family of his "
    "nephew Mr. Henry Dashwood, the legal inheritor of the Norland estate.",
]

# Written form -> what the engines are told to say (the reference keeps the written form).
TTS_SPELLING = {
    "UML": "U M L", "User-Mode": "User Mode", "Ducharme": "Doo sharm", "Linode": "Line ode",
    "Xen": "Zen", "KVM": "K V M", "Kubernetes": "Koober netties", "PostgreSQL": "Post gress Q L",
    "MySQL": "My S Q L", "PostGIS": "Post jiss", "nginx": "engine X", "QEMU": "Q emu",
    "RISC-V": "risk five", "JSON": "jay son", "Trivy": "Trivvy", "HashiCorp": "Hashy corp",
    "PagerDuty": "Pager Duty", "Nagios": "Nah gee ose", "Torvalds": "Tor valds",
    "Mm-hmm": "Mhm", "Mr.": "Mister", "co-host": "co host",
}
